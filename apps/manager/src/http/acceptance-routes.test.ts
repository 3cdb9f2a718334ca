// SKU profiles over the API: an admin makes, replaces and removes the API's
// own, which come before the defaults; bad input changes nothing; the file's
// and the defaults are not removable; a node's acceptance runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSkuProfiles } from '@metalfleet/domain';
import { startTestApp, type TestApp } from './test-app.ts';

let t: TestApp;
const [h100] = defaultSkuProfiles;
const mine = { ...h100!, name: 'sim-h100-8', gpuModel: 'H100', nicCount: 2, minNicSpeedMbps: 100_000, nvmeCount: 2, allowedDrivers: ['570.124.06'], allowedVbios: [] };

beforeAll(async () => {
  t = await startTestApp();
});

afterAll(async () => {
  await t.close();
});

const names = async () => (await t.inject({ method: 'GET', url: '/api/v1/sku-profiles' })).json<{ items: Array<{ name: string; source: string; nvmeCount: number }> }>().items;

describe('SKU profiles over the API', () => {
  it('makes and replaces a profile that comes before the defaults; refuses bad input, changing nothing', async () => {
    expect((await names()).map((p) => `${p.name} ${p.source}`)).toEqual(['hgx-h100-8 default', 'hgx-h200-8 default', 'hgx-a100-8 default']);
    expect((await t.inject({ method: 'PUT', url: '/api/v1/sku-profiles/sim-h100-8', payload: mine })).statusCode).toBe(200);
    expect((await t.inject({ method: 'PUT', url: '/api/v1/sku-profiles/sim-h100-8', payload: { ...mine, nvmeCount: 4 } })).statusCode).toBe(200);
    for (const [url, payload, message] of [
      ['/api/v1/sku-profiles/sim-h100-8', { ...mine, nvmeCount: -1 }, /nvmeCount/],
      ['/api/v1/sku-profiles/sim-h100-8', { ...mine, gates: { ...mine.gates, dcgmLevel: 4 } }, /dcgmLevel/],
      ['/api/v1/sku-profiles/sim-h100-8', { ...mine, extra: true }, /extra|additional/],
      ['/api/v1/sku-profiles/other', mine, /named sim-h100-8, not other/],
      ['/api/v1/sku-profiles/Bad%20Name', { ...mine, name: 'Bad Name' }, /name/],
    ] as const) {
      const res = await t.inject({ method: 'PUT', url, payload });
      expect(res.statusCode, url).toBe(400);
      expect(res.json<{ error: { message: string } }>().error.message).toMatch(message);
    }
    expect((await names()).map((p) => `${p.name} ${p.source} ${p.nvmeCount}`)).toEqual(['sim-h100-8 api 4', 'hgx-h100-8 default 8', 'hgx-h200-8 default 8', 'hgx-a100-8 default 8']);
    // One of a default's name replaces it, in the API's place.
    expect((await t.inject({ method: 'PUT', url: '/api/v1/sku-profiles/hgx-a100-8', payload: { ...defaultSkuProfiles[2]!, allowedDrivers: ['550.54.15'], allowedVbios: [] } })).statusCode).toBe(200);
    expect((await names()).map((p) => `${p.name} ${p.source}`)).toEqual(['hgx-a100-8 api', 'sim-h100-8 api', 'hgx-h100-8 default', 'hgx-h200-8 default']);
  });

  it('removes only the API\'s own; only an admin changes them', async () => {
    expect((await t.inject({ method: 'DELETE', url: '/api/v1/sku-profiles/hgx-a100-8' })).statusCode).toBe(204);
    const dflt = await t.inject({ method: 'DELETE', url: '/api/v1/sku-profiles/hgx-a100-8' });
    expect(dflt.statusCode).toBe(409);
    expect(dflt.json<{ error: { message: string } }>().error.message).toBe('SKU profile hgx-a100-8 is a default: replace it with one of the same name');
    expect((await t.inject({ method: 'DELETE', url: '/api/v1/sku-profiles/nope' })).statusCode).toBe(404);
    const { token } = (await t.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'ops-sku', role: 'operator' } })).json<{ token: string }>();
    const asOperator = await t.app.inject({ method: 'PUT', url: '/api/v1/sku-profiles/sim-h100-8', payload: mine, headers: { authorization: `Bearer ${token}` } });
    expect(asOperator.statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/sku-profiles', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
  });

  it('answers a node\'s acceptance runs, 404 for an unknown node', async () => {
    expect((await t.inject({ method: 'GET', url: '/api/v1/nodes/n1/acceptance' })).json()).toEqual({ items: [] });
    expect((await t.inject({ method: 'GET', url: '/api/v1/nodes/nope/acceptance' })).statusCode).toBe(404);
  });
});
