// The host clock steps an hour forward or back while work is in flight. The
// manager reads its time from the steady clock (as main composes it): nothing
// fails, nothing goes offline, and cooldowns, timeouts and token expiry go by
// the time that really passed (give or take the 10 % by which the manager's
// time runs faster or slower while it catches up with the host clock).
import { afterEach, describe, expect, it } from 'vitest';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore } from '@metalfleet/store';
import { FleetEvents, type FleetEvent } from '../events/fleet-events.ts';
import { createPresenceTracker } from '../controllers/presence-tracker.ts';
import { startRemediation } from '../controllers/remediation.ts';
import { createBootstrapTokens } from '../services/bootstrap-tokens.ts';
import { startFleet, until } from '../fleet-harness.test-kit.ts';
import { fakeHostClock } from './fake-clock.test-kit.ts';
import { createSteadyClock } from './steady-clock.ts';

const hour = 3_600_000;
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** The host's clocks and the manager's time read from them, as main composes it. */
function managerTime() {
  const host = fakeHostClock();
  const clock = createSteadyClock(host);
  return { host, now: clock.now };
}

describe.each([['forward', hour], ['back', -hour]])('a host clock stepped an hour %s', (_, step) => {
  it('marks no node offline, and one silent for longer than the grace period still goes offline', async () => {
    const { host, now } = managerTime();
    const store = openSqliteFleetStore({ path: ':memory:' });
    closers.push(() => store.close());
    const tracker = createPresenceTracker({ store, events: new FleetEvents(), now, heartbeatGraceMs: 30_000 });
    for (const id of ['n1', 'n2']) {
      await store.createNode({ id, hostname: id, identity: { systemUuid: id, systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: 'x', at: now() });
      await tracker.heartbeat(id);
    }
    host.advance(10_000);
    host.step(step);
    host.advance(10_000);
    await tracker.heartbeat('n1');
    expect(await tracker.sweep()).toEqual([]);
    // n2 has been silent for 35 s (not 35 s plus or minus an hour), n1 for 15 s.
    host.advance(15_000);
    expect(await tracker.sweep()).toEqual(['n2']);
    expect((await store.getNode('n1'))?.presence).toBe('online');
  });

  it('fails no reimage in flight, and times one out only after its phase timeout really passed', async () => {
    const { host, now } = managerTime();
    const f = await startFleet({ now });
    closers.push(f.close);
    const tenant = await f.tenants.create('training');
    await f.addNode('n1');
    await f.activeIn(tenant.id, 'n1');
    const running = await f.reimages.start(hour);
    closers.push(running.stop);
    const op = await f.reimages.create({ kind: 'reimage', image: { name: 'gpu-os', version: '1' }, nodeIds: ['n1'], priority: 0, urgent: false, actor: 'test', reason: 'r' });
    const entry = async () => (await f.store.operationNodes(op.id))[0];
    await until(entry, (e) => e?.progress.phase === 'rebooting' && e.commandId !== null, 'the reimage command to be sent');
    await f.reimages.settled();

    // The rebooting phase has 60 s: 30 s pass around the step.
    host.advance(15_000);
    host.step(step);
    host.advance(15_000);
    f.reimages.kick();
    await f.reimages.settled();
    expect((await entry())?.progress).toMatchObject({ phase: 'rebooting', failure: null });

    host.advance(40_000);
    f.reimages.kick();
    await until(entry, (e) => e?.progress.phase === 'failed', 'the rebooting phase to time out');
    expect((await entry())?.progress.failure).toMatchObject({ code: 'timeout', phase: 'rebooting' });
  });

  it('expires a token by the time that passed since it was made, not by the host clock', async () => {
    const { host, now } = managerTime();
    const store = openSqliteFleetStore({ path: ':memory:' });
    closers.push(() => store.close());
    const tokens = createBootstrapTokens({ store, now, caFingerprint: null });
    const { token } = await tokens.create({ description: 'rack 7', ttlSeconds: 3600, maxUses: 10 });
    host.advance(60_000);
    host.step(step);
    host.advance(60_000);
    await expect(tokens.check(token)).resolves.toMatchObject({ description: 'rack 7' });
    host.advance(0.85 * hour - 120_000);
    await expect(tokens.check(token)).resolves.toMatchObject({ description: 'rack 7' });
    host.advance(0.3 * hour);
    await expect(tokens.check(token)).rejects.toThrow(/expired/);
  });

  it('repeats a software remedy only once its cooldown really passed', async () => {
    const { host, now } = managerTime();
    const f = await startFleet({ now });
    closers.push(f.close);
    const tenant = await f.tenants.create('training');
    await f.addNode('n1');
    await f.activeIn(tenant.id, 'n1');
    const remediation = startRemediation({
      store: f.store, events: f.events, lifecycle: f.lifecycle, templates: f.templates, reimages: f.reimages, outbox: f.outbox,
      drain: async () => undefined, now, cooldownMs: 10 * 60_000, onError: (error) => void f.errors.push(error),
    });
    closers.push(remediation.stop);
    await f.store.replaceConditions('n1', [{ component: 'gpu:0000:18:00', code: 'xid-48', severity: 'critical', remediation: 'reset-gpu', message: 'double-bit ECC', since: now() }]);
    const outcomes = () => f.seen.flatMap((e: FleetEvent) => (e.type === 'remediation' ? [e.outcome] : []));
    const faultAgain = async (count: number) => {
      f.events.emit({ type: 'health-changed', nodeId: 'n1', eventId: `e-${count}`, changes: ['appeared gpu xid-48'], at: now() });
      await until(outcomes, (o) => o.length === count, `remediation outcome ${count}`);
    };
    await faultAgain(1);
    expect(outcomes()[0]).toMatch(/^command .* sent$/);

    host.advance(60_000);
    host.step(step);
    host.advance(60_000);
    await faultAgain(2);
    expect(outcomes()[1]).toBe('not repeated: tried recently; needs a person');

    host.advance(10 * 60_000);
    await faultAgain(3);
    expect(outcomes()[2]).toMatch(/^command .* sent$/);
  });
});
