import { Type, type Static } from 'typebox';
import { NullableTimestamp, Timestamp } from './common.ts';

export const CreateBootstrapToken = Type.Object({
  description: Type.String({ maxLength: 200, default: '', description: 'What the token is for, e.g. "rack 12 bring-up".' }),
  ttlSeconds: Type.Integer({ minimum: 60, maximum: 366 * 24 * 3600, default: 86400, description: 'Lifetime in seconds.' }),
  maxUses: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'How many registrations it allows; null: unlimited.' })),
}, { additionalProperties: false });
export type CreateBootstrapToken = Static<typeof CreateBootstrapToken>;

export const BootstrapToken = Type.Object({
  id: Type.String(),
  description: Type.String(),
  state: Type.Enum(['active', 'expired', 'revoked', 'used-up']),
  createdAt: Timestamp,
  expiresAt: Timestamp,
  revokedAt: NullableTimestamp,
  maxUses: Type.Union([Type.Integer(), Type.Null()]),
  uses: Type.Integer(),
  purpose: Type.Optional(Type.Enum(['operator', 'discovery', 'install'], { description: 'operator: made through the API; discovery and install: handed out by the boot endpoint (bound to a MAC, or to a node and command).' })),
});
export type BootstrapToken = Static<typeof BootstrapToken>;

/** Returned once, at creation: the only time the secret is shown. */
export const CreatedBootstrapToken = Type.Intersect([BootstrapToken, Type.Object({ token: Type.String({ description: 'Hand this to agents; it is not shown again.' }) })]);

export const BootstrapTokenList = Type.Object({ items: Type.Array(BootstrapToken) });

export const BootstrapTokenParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{6,32}$' }) });
