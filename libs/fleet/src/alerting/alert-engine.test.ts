// The alert engine on a real SQLite store, telling real HTTP receivers on
// loopback, with the clock in the test's hands.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { noEvidence, type AlertNode, type Cohorts } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { FleetEvents, type FleetEvent } from '../events/fleet-events.ts';
import { createAlertEngine } from './alert-engine.ts';
import { createAlertRules } from './alert-rules.ts';
import { alertmanagerNotifier, slackNotifier, webhookNotifier, type Notifier } from '../outbound/notifiers.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-alerts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Receiver { url: string; bodies: unknown[]; status: number; close(): Promise<void> }
async function receiver(): Promise<Receiver> {
  const bodies: unknown[] = [];
  const state = { status: 200 };
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      if (state.status === 200) bodies.push(JSON.parse(text));
      res.writeHead(state.status).end(state.status === 200 ? 'ok' : 'receiver down');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`, bodies,
    get status() { return state.status; }, set status(s: number) { state.status = s; },
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

const cohorts = (i: number): Cohorts => ({ fleet: 'fleet', pool: 'training', rack: `r${i % 2}`, tenant: 'training', vendor: 'v', model: 'm', gpuModel: 'H100', bios: 'b', vbios: 'vb', driver: 'd', firmware: 'f' });
const nodes: AlertNode[] = Array.from({ length: 10 }, (_, i) => ({ nodeId: `n${i}`, hostname: `gpu-${i}`, cohorts: cohorts(i), state: 'active', presence: 'online' }));
const t0 = new Date('2026-11-22T12:00:00Z');

describe('alert engine', () => {
  let store: FleetStore;
  let hook: Receiver;
  let clock: Date;
  let seen: FleetEvent[];
  const events = new FleetEvents();
  events.on((e) => seen.push(e));
  const rulesFile = [{ name: 'pool-rate', kind: 'failure-rate' as const, window: '1h', threshold: 0.1, minNodes: 10 }];
  const engine = (notifiers: Notifier[]) => createAlertEngine({
    store, events, rules: createAlertRules({ store, fileRules: rulesFile }), population: async () => nodes, fabric: () => null, notifiers, now: () => clock, onError: () => {},
  });
  const fail = (nodeId: string, minutes: number) => store.recordFailure({ nodeId, kind: 'critical-condition', code: 'xid-79', at: new Date(t0.getTime() + minutes * 60_000), cohorts: cohorts(Number(nodeId.slice(1))) });
  const options = { publicUrl: () => 'http://manager:7470', now: () => clock };

  beforeEach(async () => {
    store = openSqliteFleetStore({ path: join(dir, `${Math.random()}.db`) });
    hook = await receiver();
    clock = t0;
    seen = [];
  });
  afterEach(async () => {
    await hook.close();
    await store.close();
  });

  it('fires when the pool passes 10 %, tells the webhook once, and resolves when the failures leave the window', async () => {
    const alerts = engine([webhookNotifier(hook.url, options)]);
    await fail('n1', 0);
    await alerts.evaluate();
    expect(alerts.list(clock)).toEqual([]);
    await fail('n2', 1);
    clock = new Date(t0.getTime() + 2 * 60_000);
    await alerts.evaluate();
    await alerts.evaluate();
    expect(alerts.list(clock).map((a) => [a.rule, a.state, a.nodes])).toEqual([['pool-rate', 'firing', ['n1', 'n2']]]);
    expect(hook.bodies).toEqual([expect.objectContaining({
      rule: 'pool-rate', status: 'firing', url: 'http://manager:7470/#/alerts',
      alerts: [expect.objectContaining({ state: 'firing', labels: { alertname: 'pool-rate', severity: 'critical', by: 'pool', cohort: 'training', tenant: 'training' }, summary: 'pool training: 2 of 10 nodes failed in 1h (20.0%, more than 10.0%); nodes gpu-1, gpu-2; xid-79' })],
    })]);
    expect(seen.filter((e) => e.type === 'alert-changed').map((e) => e.type === 'alert-changed' && [e.from, e.to, e.tenantId])).toEqual([[null, 'firing', 'training']]);

    clock = new Date(t0.getTime() + 61 * 60_000); // n1's failure is out of the 1 h window
    await alerts.evaluate();
    expect(alerts.list(clock).map((a) => a.state)).toEqual(['resolved']);
    expect(hook.bodies.map((b) => (b as { status: string }).status)).toEqual(['firing', 'resolved']);
  });

  it('with two replicas, only the one holding the control loops evaluates and notifies; the other lists what it stored, and one taking over tells nothing twice', async () => {
    let aRuns = true;
    const replica = (runsHere: () => boolean) => createAlertEngine({
      store, events, rules: createAlertRules({ store, fileRules: rulesFile }), population: async () => nodes, fabric: () => null,
      notifiers: [webhookNotifier(hook.url, options)], now: () => clock, onError: () => {}, runsHere,
    });
    const a = replica(() => aRuns);
    const b = replica(() => !aRuns);
    await fail('n1', 0);
    await fail('n2', 0);
    await a.evaluate();
    await b.evaluate();
    expect(hook.bodies).toHaveLength(1);
    expect(b.list(clock).map((x) => [x.rule, x.state])).toEqual([['pool-rate', 'firing']]);
    // a dies; b takes over: it starts from what a stored, so the firing alert is not told again.
    aRuns = false;
    await b.evaluate();
    expect(hook.bodies).toHaveLength(1);
    clock = new Date(t0.getTime() + 61 * 60_000);
    await b.evaluate();
    expect(hook.bodies.map((x) => (x as { status: string }).status)).toEqual(['firing', 'resolved']);
  });

  it('keeps alerts and what was told across a restart: nothing is sent twice', async () => {
    await fail('n1', 0);
    await fail('n2', 0);
    await engine([webhookNotifier(hook.url, options)]).evaluate();
    const again = engine([webhookNotifier(hook.url, options)]);
    await again.start().then((stop) => stop());
    await again.evaluate();
    expect(again.list(clock).map((a) => a.state)).toEqual(['firing']);
    expect(hook.bodies).toHaveLength(1);
  });

  it('a receiver that fails is tried again later; a silenced alert is not sent until the silence ends', async () => {
    const rules = createAlertRules({ store, fileRules: rulesFile });
    await rules.createSilence({ matchers: [{ label: 'cohort', value: 'training' }], endsAt: new Date(t0.getTime() + 5 * 60_000), comment: 'rack work' }, 'api ops', clock);
    const alerts = engine([webhookNotifier(hook.url, options)]);
    await fail('n1', 0);
    await fail('n2', 0);
    await alerts.evaluate();
    expect(alerts.list(clock)[0]?.silencedBy).toHaveLength(1);
    expect(hook.bodies).toEqual([]);
    clock = new Date(t0.getTime() + 5 * 60_000);
    hook.status = 503;
    await alerts.evaluate();
    expect(seen.some((e) => e.type === 'notification-failed' && e.error.includes('answered 503: receiver down'))).toBe(true);
    hook.status = 200;
    await alerts.evaluate(); // still backing off
    expect(hook.bodies).toEqual([]);
    clock = new Date(clock.getTime() + 2000);
    await alerts.evaluate();
    expect(hook.bodies).toHaveLength(1);
  });

  it('speaks Slack and Alertmanager: a text per rule; labels, annotations and an end in the future, refreshed', async () => {
    const slack = slackNotifier(hook.url, options);
    const am = alertmanagerNotifier(hook.url.replace('/hook', ''), { ...options, refreshMs: 60_000 });
    await fail('n1', 0);
    await fail('n2', 0);
    const alerts = engine([slack, am]);
    await alerts.evaluate();
    expect(hook.bodies[0]).toEqual({ text: '*pool-rate* (metalfleet, <http://manager:7470/#/alerts|open>)\n:red_circle: FIRING [critical] pool training: 2 of 10 nodes failed in 1h (20.0%, more than 10.0%); nodes gpu-1, gpu-2; xid-79' });
    expect(hook.bodies[1]).toEqual([{
      labels: { alertname: 'pool-rate', severity: 'critical', by: 'pool', cohort: 'training', tenant: 'training', source: 'metalfleet' },
      annotations: { summary: expect.stringContaining('2 of 10') as string, nodes: 'n1, n2', conditions: 'xid-79', value: '0.2' },
      startsAt: t0.toISOString(), endsAt: new Date(t0.getTime() + 240_000).toISOString(), generatorURL: 'http://manager:7470/#/alerts',
    }]);
    expect(hook.bodies).toHaveLength(3); // the first refresh goes out with the first delivery
    clock = new Date(t0.getTime() + 30_000);
    await alerts.evaluate();
    expect(hook.bodies).toHaveLength(3);
    clock = new Date(t0.getTime() + 60_000);
    await alerts.evaluate();
    expect(hook.bodies).toHaveLength(4);
  });

  it('finds a reimage stuck in a phase in the store, and switch drift in the fabric view and its repairs', async () => {
    const op = { id: 'op1', kind: 'reimage' as const, state: 'running' as const, image: { name: 'gpu-os', version: '1' }, priority: 0, urgent: false, actor: 'test', reason: 'r', createdAt: t0, updatedAt: t0 };
    await store.createOperation(op, [{ operationId: 'op1', nodeId: 'n4', position: 0, rack: 'r0', tenant: null, progress: { phase: 'queued', powerCycles: 0, deadlineAt: null, message: '', evidence: noEvidence(), failure: null }, commandId: null, updatedAt: t0 }]);
    await store.saveOperationNode('op1', 'n4', { phase: 'installing', powerCycles: 0, deadlineAt: null, message: 'writing', evidence: noEvidence(), failure: null }, null, t0);
    const port = { switchName: 'leaf1', port: 'p4', nodeId: 'n4', vlan: 101, role: 'tenant' as const, tenant: 'training', why: 'active in tenant' };
    const alerts = createAlertEngine({
      store, events, population: async () => nodes, notifiers: [], now: () => clock, onError: () => {},
      rules: createAlertRules({ store, fileRules: [{ name: 'stuck', kind: 'stuck-phase', max: '30m' }, { name: 'drift', kind: 'switch-drift', minRepairs: 2 }] }),
      fabric: () => ({ at: clock, ports: [{ ...port, actualVlan: 300, inSync: false }], errors: [], cablingWarnings: [], cabling: [], driftRepairs: 0 }),
    });
    const stop = await alerts.start();
    for (const at of [t0, new Date(t0.getTime() + 1000)]) events.emit({ type: 'port-drift-repaired', switchName: 'leaf1', port: 'p5', nodeId: 'n5', vlan: 101, foundVlan: 300, at });
    clock = new Date(t0.getTime() + 31 * 60_000);
    await alerts.evaluate();
    await stop();
    expect(alerts.list(clock).map((a) => a.summary)).toEqual([
      '1 switch ports out of plan: leaf1/p4 (carries VLAN 300, planned 101); 2 ports changed behind the manager\'s back and put back in 1h: leaf1/p5',
      'node gpu-4 has been in phase installing for 31m (more than 30m), operation op1',
    ]);
  });

  it('API rules join the file\'s; file rules cannot be changed through the API', async () => {
    const rules = createAlertRules({ store, fileRules: rulesFile });
    await rules.create({ name: 'rack-rate', kind: 'failure-rate', by: 'rack', minNodes: 5, threshold: 0.3 }, 'api admin', clock);
    expect((await rules.list()).map((r) => [r.spec.name, r.source])).toEqual([['pool-rate', 'file'], ['rack-rate', 'api']]);
    await expect(rules.create({ name: 'pool-rate', kind: 'nodes-offline' }, 'api admin', clock)).rejects.toMatchObject({ code: 'conflict' });
    await expect(rules.create({ name: 'bad', kind: 'failure-rate', threshold: 3 }, 'api admin', clock)).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(rules.remove('pool-rate')).rejects.toMatchObject({ code: 'conflict' });
    await fail('n1', 0);
    await fail('n3', 0);
    const alerts = engine([]);
    await alerts.evaluate();
    // r1 holds n1, n3, n5, n7, n9: 2 of 5 = 40 % > 30 %; the pool: 20 % > 10 %.
    expect(alerts.list(clock).map((a) => a.labels['cohort'])).toEqual(['training', 'r1']);
    await rules.remove('rack-rate');
    await expect(rules.remove('rack-rate')).rejects.toMatchObject({ code: 'not-found' });
  });
});
