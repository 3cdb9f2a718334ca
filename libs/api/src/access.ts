// API tokens and the audit log.
import { Type, type Static } from 'typebox';
import { NullableTimestamp, Timestamp } from './common.ts';

export const RoleName = Type.Enum(['admin', 'operator', 'viewer'], { description: 'admin: everything; operator: nodes, reimage, replace, tenants; viewer: read-only.' });

export const CreateApiToken = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100, description: 'Who or what uses it, e.g. "ci-reimage" or "alice".' }),
  role: RoleName,
  tenantId: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()], { description: 'Scope the token to one tenant (operator or viewer only); null or absent: not scoped. An empty string is refused.' })),
  ttlSeconds: Type.Optional(Type.Union([Type.Integer({ minimum: 60, maximum: 10 * 366 * 24 * 3600 }), Type.Null()], { description: 'Lifetime in seconds; null or absent: no expiry.' })),
}, { additionalProperties: false });
export type CreateApiToken = Static<typeof CreateApiToken>;

export const ApiToken = Type.Object({
  id: Type.String(), name: Type.String(), role: Type.String(), tenantId: Type.Union([Type.String(), Type.Null()]),
  state: Type.Enum(['active', 'expired', 'revoked']), createdAt: Timestamp, expiresAt: NullableTimestamp, revokedAt: NullableTimestamp, lastUsedAt: NullableTimestamp,
});
export const CreatedApiToken = Type.Object({ ...ApiToken.properties, token: Type.String({ description: 'Shown once: send as Authorization: Bearer <token>.' }) });
export const ApiTokenList = Type.Object({ items: Type.Array(ApiToken) });
export const ApiTokenParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const AuditQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  before: Type.Optional(Type.Integer({ minimum: 1, description: 'Page back: entries older than this sequence number.' })),
});
export const AuditEntry = Type.Object({
  seq: Type.Integer(), at: Timestamp, tokenId: Type.String(), actor: Type.String(), method: Type.String(), route: Type.String(), target: Type.String(),
  status: Type.Integer(), error: Type.String(),
  detail: Type.String({ description: 'What the call changed where the target does not say it, e.g. a BMC\'s driver and address (never its password).' }),
});
export const AuditList = Type.Object({ items: Type.Array(AuditEntry) });
export type AuditList = Static<typeof AuditList>;
