import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { FailureRateQuery } from '@metalfleet/api';
import { describe, expect, it } from 'vitest';
import { DomainError } from '@metalfleet/domain';
import { installErrorHandling } from './errors.ts';

async function answerTo(error: Error) {
  const app = Fastify({ logger: false });
  installErrorHandling(app);
  app.get('/x', async () => {
    throw error;
  });
  const response = await app.inject({ method: 'GET', url: '/x' });
  await app.close();
  return { status: response.statusCode, retryAfter: response.headers['retry-after'], body: response.json() as { error: { code: string; message: string } } };
}

describe('HTTP error answers', () => {
  it('says the store is down in a 503 written for clients', async () => {
    const answer = await answerTo(new DomainError('unavailable', 'the fleet store (PostgreSQL) is unreachable; retry later', { forClients: true }));
    expect(answer).toEqual({ status: 503, retryAfter: '5', body: { error: { code: 'unavailable', message: 'the fleet store (PostgreSQL) is unreachable; retry later' } } });
  });

  it('keeps a BMC\'s or a drain hook\'s failure (addresses, answers) out of a 503, which a tenant token can cause', async () => {
    for (const message of ['IPMI chassis power status on 10.9.8.7:623 failed: Unable to establish IPMI v2 session', 'drain hook https://slurm.example/drain?key=s3cret answered 503: upstream down']) {
      const answer = await answerTo(new DomainError('unavailable', message));
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('unavailable');
      expect(answer.body.error.message).not.toMatch(/10\.9\.8\.7|s3cret|slurm\.example/);
      expect(answer.body.error.message).toMatch(/unavailable; retry later/);
    }
  });

  it('answers any other 5xx with "internal error" and a 4xx with its message', async () => {
    expect((await answerTo(new DomainError('internal', 'row 7 of nodes is broken'))).body.error.message).toBe('internal error');
    expect((await answerTo(new DomainError('not-found', 'no node n1'))).body).toEqual({ error: { code: 'not-found', message: 'no node n1' } });
  });

  it('names the allowed values when a value is not one of them (review: "must be equal to one of the allowed values" named none)', async () => {
    const app = Fastify({ logger: false }).withTypeProvider<TypeBoxTypeProvider>();
    installErrorHandling(app);
    app.get('/rates', { schema: { querystring: FailureRateQuery } }, async () => ({}));
    const response = await app.inject({ method: 'GET', url: '/rates?window=2h' });
    await app.close();
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: 'invalid-argument', message: 'querystring/window must be equal to one of the allowed values: 1h, 6h, 24h, 7d, 30d' } });
  });
});
