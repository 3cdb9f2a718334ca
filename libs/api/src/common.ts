import { Type, type Static } from 'typebox';

/** Every error the API returns has this shape; clients match on `code`. */
export const ApiError = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'Stable machine-readable code, e.g. not-found, invalid-argument.' }),
    message: Type.String(),
  }),
}, { $id: 'ApiError' });
export type ApiError = Static<typeof ApiError>;

export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

export const Health = Type.Object({
  status: Type.Literal('ok'),
  version: Type.String(),
  uptimeSeconds: Type.Number(),
});
export type Health = Static<typeof Health>;

/** One dependency the manager needs to serve: ready, or not since `since` and why. */
export const ReadinessCheck = Type.Object({
  ready: Type.Boolean(),
  since: Timestamp,
  message: Type.String({ description: 'What is wrong, for an operator; empty when ready.' }),
  problem: Type.Optional(Type.String({ description: 'For the store: unreachable, disk-full or not-writable; absent when ready.' })),
});

/** /readyz: 200 when every dependency answers, 503 naming the ones that do not (the process itself lives: see /healthz). */
export const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not-ready')]),
  checks: Type.Object({
    store: ReadinessCheck,
    /** The embedded MQTT broker listens (absent where the API runs without one, as in tests). */
    broker: Type.Optional(ReadinessCheck),
    /** This replica renews its work leases, so it may act on its share of the work (absent without a lease keeper, as in tests). */
    leases: Type.Optional(ReadinessCheck),
  }),
});
export type Readiness = Static<typeof Readiness>;
