// /readyz with a replica's work leases: not ready while it cannot renew them.
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { describe, expect, it } from 'vitest';
import { healthRoutes } from './health-routes.ts';

const at = new Date('2026-11-27T12:00:00Z');

describe('/readyz and the work leases', () => {
  it('answers 503 naming the leases while this replica cannot renew them, and 200 again once it does', async () => {
    let renewing = true;
    const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
    await app.register(healthRoutes, {
      version: 'test', startedAt: at, now: () => at,
      store: { availability: async () => ({ available: true, since: at.getTime(), problem: null, message: '', reason: '', errors: { unreachable: 0, 'disk-full': 0, 'not-writable': 0 } }) },
      leases: () => ({ ok: renewing, since: at }),
    });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toMatchObject({ status: 'ready', checks: { leases: { ready: true, message: '' } } });
    renewing = false;
    const down = await app.inject({ method: 'GET', url: '/readyz' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ status: 'not-ready', checks: { store: { ready: true }, leases: { ready: false, message: expect.stringMatching(/cannot renew its work leases/) } } });
    renewing = true;
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    await app.close();
  });
});
