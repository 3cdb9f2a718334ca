// A NUL character anywhere in a request (path parameters, query, JSON body) is
// refused as invalid-argument before any route runs: PostgreSQL text cannot
// hold one (SQLite can), so it used to reach the store and answer 500 there,
// and 200 on SQLite. One check here keeps both stores answering alike.
import { DomainError } from '@metalfleet/domain';
import type { FastifyInstance } from 'fastify';

/** The path of the first string (or key) in `value` holding a NUL, or null. */
function nulAt(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  // Bytes (a body some parser left raw) are not text: not walked.
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || depth > 32) return null;
  for (const [key, inner] of Object.entries(value)) {
    const at = Array.isArray(value) ? `${path}[${key}]` : `${path}.${key.replaceAll('\u0000', '\\0')}`;
    if (key.includes('\u0000')) return at;
    const found = nulAt(inner, at, depth + 1);
    if (found !== null) return found;
  }
  return null;
}

export function installNulGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const at = nulAt(request.params, 'path') ?? nulAt(request.query, 'query') ?? nulAt(request.body, 'body');
    if (at !== null) throw new DomainError('invalid-argument', `${at} holds a NUL character`);
  });
}
