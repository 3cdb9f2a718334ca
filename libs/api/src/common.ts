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
