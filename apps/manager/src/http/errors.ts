// The one table mapping domain error codes to HTTP statuses. 5xx answers never
// carry internals (a 503 carries its reason only when written for clients); the full error goes to the log.
import type { FastifyError, FastifyInstance } from 'fastify';
import { isDomainError, type ErrorCode } from '@metalfleet/domain';
import { isStoreOutage } from '@metalfleet/store';

const httpStatus: Record<ErrorCode, number> = {
  'invalid-argument': 400,
  unauthenticated: 401,
  'permission-denied': 403,
  'not-found': 404,
  conflict: 409,
  'pending-approval': 409,
  unavailable: 503,
  internal: 500,
};

const dependencyDown = 'a service the manager depends on (a BMC, a switch, the drain hook) is unavailable; retry later';

/** A schema's "must be equal to one of the allowed values" names them: the caller should not have to read the schema. */
function withAllowedValues(error: FastifyError): string {
  const allowed = error.validation?.find((v) => v.keyword === 'enum')?.params['allowedValues'];
  return Array.isArray(allowed) ? `${error.message}: ${allowed.map(String).join(', ')}` : error.message;
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isDomainError(error)) {
      const status = httpStatus[error.code];
      // A store outage (unreachable, disk full) is logged once when it starts, by the store's watcher; a line per request would bury it.
      if (status >= 500) request.log[isStoreOutage(error) ? 'debug' : 'error']({ err: error }, 'request failed');
      // `unavailable` says when to retry, and what is down only where the error was written for clients (the
      // store's): a BMC's, a switch's or a drain hook's carry addresses and answers that a tenant must not read.
      if (error.code === 'unavailable') reply.header('retry-after', '5');
      const message = status < 500 ? error.message : error.code !== 'unavailable' ? 'internal error' : error.details['forClients'] === true ? error.message : dependencyDown;
      return reply.status(status).send({ error: { code: error.code, message } });
    }
    if (error.validation) {
      return reply.status(400).send({ error: { code: 'invalid-argument', message: withAllowedValues(error) } });
    }
    const status = error.statusCode ?? 500;
    if (status < 500) {
      // Fastify's own client errors: bad JSON, body too large, unsupported media type.
      const code = status === 413 ? 'payload-too-large' : status === 415 ? 'unsupported-media-type' : 'invalid-argument';
      return reply.status(status).send({ error: { code, message: error.message } });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send({ error: { code: 'internal', message: 'internal error' } });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'not-found', message: `no route ${request.method} ${request.url}` } }));
}
