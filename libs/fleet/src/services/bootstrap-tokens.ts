// Operator-created bootstrap tokens: the secret is shown once and stored only
// as a hash; verification says clearly why a token is refused.
import {
  DomainError, bootstrapTokenState, type BootstrapTokenPurpose, formatBootstrapToken, parseBootstrapToken, type BootstrapTokenRecord,
} from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import { hashSecret, newSecret, newTokenId, secretMatches } from '../secrets/secrets.ts';

export interface TokenRequest {
  description: string;
  ttlSeconds: number;
  maxUses: number | null;
  /** Default: operator. The boot endpoint makes discovery and install tokens (see boot-tokens.ts). */
  purpose?: BootstrapTokenPurpose;
  nodeId?: string;
  commandId?: string;
  mac?: string;
  /** install: the address the boot endpoint hands it to. */
  issuedTo?: string;
}

export function createBootstrapTokens(deps: { store: FleetStore; now: () => Date; caFingerprint: string | null }) {
  /** `usedUp`: a token with no uses left passes too (the registrar then looks for this machine's own use, registrar.ts). */
  async function check(token: string, options: { usedUp?: boolean } = {}): Promise<BootstrapTokenRecord> {
    const parsed = parseBootstrapToken(token);
    if (!parsed) throw new DomainError('unauthenticated', token === '' ? 'bootstrap token missing' : 'bootstrap token malformed');
    const record = await deps.store.getBootstrapToken(parsed.id);
    if (!record || !secretMatches(parsed.secret, record.secretHash)) throw new DomainError('unauthenticated', 'bootstrap token unknown');
    const state = bootstrapTokenState(record, deps.now());
    if (state === 'expired') throw new DomainError('unauthenticated', `bootstrap token ${record.id} expired at ${record.expiresAt.toISOString()}`);
    if (state === 'revoked') throw new DomainError('unauthenticated', `bootstrap token ${record.id} was revoked`);
    if (state === 'used-up' && options.usedUp !== true) throw new DomainError('unauthenticated', `bootstrap token ${record.id} has no uses left`);
    return record;
  }

  return {
    async create(request: TokenRequest): Promise<{ record: BootstrapTokenRecord; token: string }> {
      const id = newTokenId();
      const secret = newSecret();
      const now = deps.now();
      const record: BootstrapTokenRecord = {
        id, purpose: request.purpose ?? 'operator', nodeId: request.nodeId ?? null, commandId: request.commandId ?? null, mac: request.mac ?? null, issuedTo: request.issuedTo ?? null,
        description: request.description, secretHash: hashSecret(secret), createdAt: now,
        expiresAt: new Date(now.getTime() + request.ttlSeconds * 1000), revokedAt: null, maxUses: request.maxUses, uses: 0,
      };
      await deps.store.createBootstrapToken(record);
      return { record, token: formatBootstrapToken(id, secret, deps.caFingerprint) };
    },

    /** Checks a presented token without using it; throws `unauthenticated` with the reason. */
    check,

    /** Checks a presented token and counts one use; throws `unauthenticated` with the reason otherwise. */
    async consume(token: string): Promise<BootstrapTokenRecord> {
      const record = await check(token);
      if (!(await deps.store.useBootstrapToken(record.id))) throw new DomainError('unauthenticated', `bootstrap token ${record.id} has no uses left`);
      return record;
    },

    list: () => deps.store.listBootstrapTokens(),

    async revoke(id: string): Promise<void> {
      if (!(await deps.store.revokeBootstrapToken(id, deps.now()))) {
        const record = await deps.store.getBootstrapToken(id);
        throw record ? new DomainError('conflict', `bootstrap token ${id} is already revoked`) : new DomainError('not-found', `no bootstrap token ${id}`);
      }
    },

    /** Whether a token (e.g. the one kept in the data directory) can still register nodes with this CA. */
    async stillUsable(token: string): Promise<boolean> {
      const parsed = parseBootstrapToken(token);
      if (!parsed || parsed.caFingerprint !== deps.caFingerprint) return false;
      const record = await deps.store.getBootstrapToken(parsed.id);
      return record !== null && secretMatches(parsed.secret, record.secretHash) && bootstrapTokenState(record, deps.now()) === 'active';
    },
  };
}

export type BootstrapTokens = ReturnType<typeof createBootstrapTokens>;
