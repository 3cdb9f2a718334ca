// API tokens: created by an admin, shown once, stored hashed, expiring and
// revocable. authenticate() turns a presented bearer token into the principal
// the API checks permissions for, or says why it is refused.
import { EventEmitter } from 'node:events';
import {
  DomainError, apiTokenState, formatApiToken, parseApiToken, type ApiTokenRecord, type Principal, type Role,
} from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import { hashSecret, newSecret, newTokenId, secretMatches } from '../secrets/secrets.ts';

export interface ApiTokenRequest {
  name: string;
  role: Role;
  tenantId: string | null;
  /** null: never expires. */
  ttlSeconds: number | null;
}

/** last_used_at is written at most this often per token: a busy script must not turn reads into writes. */
const touchEveryMs = 60_000;

export function createApiTokens(deps: { store: FleetStore; now: () => Date }) {
  const touched = new Map<string, number>();
  // One listener per open event stream.
  const revocations = new EventEmitter().setMaxListeners(0);
  return {
    async create(request: ApiTokenRequest): Promise<{ record: ApiTokenRecord; token: string }> {
      // An empty tenant id must not pass for "no tenant": that would make an unscoped token out of a scoped request.
      if (request.tenantId !== null && request.tenantId.trim() === '') throw new DomainError('invalid-argument', 'tenantId must name a tenant; leave it out (or null) for a token that is not scoped to one');
      if (request.tenantId !== null && request.role === 'admin') throw new DomainError('invalid-argument', 'an admin token cannot be scoped to a tenant');
      if (request.tenantId !== null && !(await deps.store.getTenant(request.tenantId))) throw new DomainError('not-found', `no tenant ${request.tenantId}`);
      const id = newTokenId();
      const secret = newSecret();
      const now = deps.now();
      const record: ApiTokenRecord = {
        id, name: request.name, role: request.role, tenantId: request.tenantId, secretHash: hashSecret(secret), createdAt: now,
        expiresAt: request.ttlSeconds === null ? null : new Date(now.getTime() + request.ttlSeconds * 1000), revokedAt: null, lastUsedAt: null,
      };
      await deps.store.createApiToken(record);
      return { record, token: formatApiToken(id, secret) };
    },

    /** The principal behind an `Authorization: Bearer …` value; throws `unauthenticated` with the reason. */
    async authenticate(header: string | undefined): Promise<Principal> {
      if (!header) throw new DomainError('unauthenticated', 'API token missing: send Authorization: Bearer <token>');
      const bearer = /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? '';
      const parsed = parseApiToken(bearer);
      if (!parsed) throw new DomainError('unauthenticated', 'API token malformed');
      const record = await deps.store.getApiToken(parsed.id);
      if (!record || !secretMatches(parsed.secret, record.secretHash)) throw new DomainError('unauthenticated', 'API token unknown');
      const now = deps.now();
      const state = apiTokenState(record, now);
      if (state === 'expired') throw new DomainError('unauthenticated', `API token ${record.id} expired at ${record.expiresAt?.toISOString() ?? ''}`);
      if (state === 'revoked') throw new DomainError('unauthenticated', `API token ${record.id} was revoked`);
      if (now.getTime() - (touched.get(record.id) ?? 0) > touchEveryMs) {
        touched.set(record.id, now.getTime());
        await deps.store.touchApiToken(record.id, now);
      }
      return { tokenId: record.id, name: record.name, role: record.role, tenantId: record.tenantId };
    },

    list: () => deps.store.listApiTokens(),

    async revoke(id: string): Promise<void> {
      if (!(await deps.store.revokeApiToken(id, deps.now()))) {
        throw (await deps.store.getApiToken(id)) ? new DomainError('conflict', `API token ${id} is already revoked`) : new DomainError('not-found', `no API token ${id}`);
      }
      revocations.emit('revoked', id);
    },

    /** Calls `listener` with the id of every token revoked through this manager, at once (other replicas' revocations: see state()). */
    onRevoked(listener: (tokenId: string) => void): () => void {
      revocations.on('revoked', listener);
      return () => revocations.off('revoked', listener);
    },

    /** A token's state now, as the store has it ('unknown' when it is gone), and when it expires. */
    async state(id: string): Promise<{ state: 'active' | 'expired' | 'revoked' | 'unknown'; expiresAt: Date | null }> {
      const record = await deps.store.getApiToken(id);
      return record ? { state: apiTokenState(record, deps.now()), expiresAt: record.expiresAt } : { state: 'unknown', expiresAt: null };
    },

    /** Whether `token` still authenticates as an admin (the token kept in the data directory). */
    async adminStillUsable(token: string): Promise<boolean> {
      try {
        return (await this.authenticate(`Bearer ${token}`)).role === 'admin';
      } catch {
        return false;
      }
    },
  };
}

export type ApiTokens = ReturnType<typeof createApiTokens>;
