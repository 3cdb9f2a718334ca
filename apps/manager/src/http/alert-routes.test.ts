// Alerts, rules and silences through the API, and what /metrics shows of them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { giveNode, startTestApp, testTime, type TestApp } from './test-app.ts';

const cohorts = (tenant: string) => ({ fleet: 'fleet', pool: tenant, rack: 'unknown', tenant, vendor: 'unknown', model: 'unknown', gpuModel: 'none', bios: 'unknown', vbios: 'none', driver: 'none', firmware: 'unknown' });

describe('alert API', () => {
  let t: TestApp;
  let tenantId = '';
  const as = (token: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url, ...(payload ? { payload } : {}), headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    t = await startTestApp();
    tenantId = (await t.inject({ method: 'POST', url: '/api/v1/tenants', payload: { name: 'alerts-tenant' } })).json<{ id: string }>().id;
    await giveNode(t.store, 'n1', tenantId);
    const otherId = (await t.inject({ method: 'POST', url: '/api/v1/tenants', payload: { name: 'someone-else' } })).json<{ id: string }>().id;
    for (const [name, scope] of [['tenant-viewer', tenantId], ['other-viewer', otherId]] as const) {
      const made = await t.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name, role: 'viewer', tenantId: scope } });
      expect(made.statusCode).toBe(201);
      t.bearer[name] = made.json<{ token: string }>().token;
    }
    t.bearer['viewer'] = (await t.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'viewer', role: 'viewer' } })).json<{ token: string }>().token;
  });
  afterAll(() => t.close());

  it('lists the default rules; API rules are checked, added, and cannot replace a default', async () => {
    const rules = (await t.inject({ method: 'GET', url: '/api/v1/alert-rules' })).json<{ items: Array<{ spec: { name: string; kind: string }; source: string }> }>().items;
    expect(rules.map((r) => `${r.spec.name}:${r.spec.kind}:${r.source}`)).toContain('pool-failure-rate:failure-rate:default');
    const bad = await t.inject({ method: 'POST', url: '/api/v1/alert-rules', payload: { name: 'x', kind: 'cohort-outlier', factor: 0.5 } });
    expect([bad.statusCode, bad.json<{ error: { message: string } }>().error.message]).toEqual([400, expect.stringContaining('factor')]);
    const unknownField = await t.inject({ method: 'POST', url: '/api/v1/alert-rules', payload: { name: 'x', kind: 'nodes-offline', threshold: 0.2 } });
    expect([unknownField.statusCode, unknownField.json<{ error: { message: string } }>().error.message]).toEqual([400, 'rule "x": "threshold" does not apply to a nodes-offline rule']);
    expect((await t.inject({ method: 'POST', url: '/api/v1/alert-rules', payload: { name: 'pool-failure-rate', kind: 'nodes-offline' } })).statusCode).toBe(409);
    expect((await t.inject({ method: 'DELETE', url: '/api/v1/alert-rules/pool-failure-rate' })).statusCode).toBe(409);
    expect((await as(t.bearer['viewer'] ?? '', 'POST', '/api/v1/alert-rules', { name: 'y', kind: 'nodes-offline' })).statusCode).toBe(403);
    const made = await t.inject({ method: 'POST', url: '/api/v1/alert-rules', payload: { name: 'tenant-rate', kind: 'failure-rate', by: 'tenant', minNodes: 1, threshold: 0.5 } });
    expect([made.statusCode, made.json()]).toEqual([201, expect.objectContaining({ source: 'api', createdBy: 'api test admin', spec: expect.objectContaining({ window: '24h', severity: 'critical' }) as object })]);
  });

  it('shows a firing alert with its summary to the fleet and to its tenant, not to another tenant', async () => {
    await t.store.recordFailure({ nodeId: 'n1', kind: 'critical-condition', code: 'xid-79', at: testTime, cohorts: cohorts(tenantId) });
    await t.alerts.evaluate();
    const list = (await t.inject({ method: 'GET', url: '/api/v1/alerts?state=firing' })).json<{ items: Array<{ rule: string; labels: Record<string, string>; summary: string; nodes: string[] }> }>();
    const mine = list.items.find((a) => a.rule === 'tenant-rate');
    expect(mine).toMatchObject({ labels: { tenant: tenantId, cohort: tenantId }, nodes: ['n1'], summary: `tenant ${tenantId}: 1 of 1 nodes failed in 24h (100.0%, more than 50.0%); nodes host-n1; xid-79` });
    const seenBy = async (who: string) => (await as(t.bearer[who] ?? '', 'GET', '/api/v1/alerts')).json<{ items: Array<{ rule: string }> }>().items.map((a) => a.rule);
    expect(await seenBy('tenant-viewer')).toEqual(['tenant-rate']);
    expect(await seenBy('other-viewer')).toEqual([]);
    expect((await t.inject({ method: 'GET', url: '/api/v1/alerts?state=bogus' })).statusCode).toBe(400);
    // Failure rates for a tenant-scoped token count its tenant's nodes only.
    const rates = async (who: string) => (await as(t.bearer[who] ?? '', 'GET', '/api/v1/failure-rates?by=fleet')).json<{ items: Array<{ nodes: number; failedNodes: number }> }>().items;
    expect(await rates('tenant-viewer')).toEqual([expect.objectContaining({ nodes: 1, failedNodes: 1 })]);
    expect(await rates('other-viewer')).toEqual([]);
    expect(await rates('viewer')).toEqual([expect.objectContaining({ nodes: 2, failedNodes: 1 })]);
    const trend = (await t.inject({ method: 'GET', url: '/api/v1/failure-trend?days=2' })).json<{ items: Array<{ at: string; failures: number; failedNodes: number; rate: number }> }>();
    expect(trend.items).toEqual([
      { at: '2026-11-20T00:00:00.000Z', failures: 0, failedNodes: 0, rate: 0 },
      { at: '2026-11-21T00:00:00.000Z', failures: 1, failedNodes: 1, rate: 0.5 },
    ]);
  });

  it('silences by label, for a while; ending a silence brings the alert back', async () => {
    const made = await t.inject({ method: 'POST', url: '/api/v1/silences', payload: { matchers: [{ label: 'alertname', value: 'tenant-rate' }], duration: '2h', comment: 'RMA ticket 1234' } });
    expect(made.statusCode).toBe(201);
    const silence = made.json<{ id: string; createdBy: string; active: boolean; endsAt: string }>();
    expect(silence).toMatchObject({ createdBy: 'api test admin', active: true, endsAt: new Date(testTime.getTime() + 5000 + 7_200_000).toISOString() });
    const alert = async () => (await t.inject({ method: 'GET', url: '/api/v1/alerts' })).json<{ items: Array<{ rule: string; silencedBy: string[] }> }>().items.find((a) => a.rule === 'tenant-rate');
    expect((await alert())?.silencedBy).toEqual([silence.id]);
    expect((await t.inject({ method: 'POST', url: '/api/v1/silences', payload: { matchers: [], duration: '1h', comment: 'all' } })).statusCode).toBe(400);
    expect((await t.inject({ method: 'DELETE', url: `/api/v1/silences/${silence.id}` })).statusCode).toBe(204);
    expect((await alert())?.silencedBy).toEqual([]);
    expect((await t.inject({ method: 'GET', url: '/api/v1/silences' })).json<{ items: Array<{ active: boolean }> }>().items).toEqual([expect.objectContaining({ active: false })]);
    expect((await t.inject({ method: 'DELETE', url: '/api/v1/silences/nope' })).statusCode).toBe(404);
  });

  it('exports failure rates per cohort and alert states on /metrics', async () => {
    const text = (await t.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain('metalfleet_failure_rate{by="fleet",cohort="fleet"} 0.5');
    expect(text).toContain(`metalfleet_failure_rate{by="pool",cohort="${tenantId}"} 1`);
    expect(text).toContain('metalfleet_cohort_nodes{by="fleet",cohort="fleet"} 2');
    expect(text).toContain('metalfleet_alerts{alertname="tenant-rate",severity="critical",state="firing"} 1');
  });

  it('removing an API rule resolves its alert', async () => {
    expect((await t.inject({ method: 'DELETE', url: '/api/v1/alert-rules/tenant-rate' })).statusCode).toBe(204);
    const states = (await t.inject({ method: 'GET', url: '/api/v1/alerts' })).json<{ items: Array<{ rule: string; state: string }> }>().items.filter((a) => a.rule === 'tenant-rate');
    expect(states.map((a) => a.state)).toEqual(['resolved']);
    expect((await t.inject({ method: 'DELETE', url: '/api/v1/alert-rules/tenant-rate' })).statusCode).toBe(404);
  });
});
