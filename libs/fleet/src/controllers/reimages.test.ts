import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { create, toBinary } from '@bufbuild/protobuf';
import { DomainError, queuedProgress } from '@metalfleet/domain';
import { CommandPhase, CommandProgressSchema } from '@metalfleet/proto';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { webhookDrain } from '../outbound/drain-hook.ts';
import { startFleet, until } from '../fleet-harness.test-kit.ts';
import { createReimageEffects } from './reimage-effects.ts';
import type { ReimageDeps } from './reimages.ts';

const t0 = new Date('2026-11-21T10:00:00Z');
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A real drain hook (e.g. the site's Slurm webhook) that answers every request with `status`. */
async function drainHook(status: number): Promise<{ url: string; calls: number }> {
  const hook = { url: '', calls: 0 };
  const server: Server = createServer((req, res) => {
    hook.calls += 1;
    req.resume();
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 503 ? 'slurmctld is not responding' : 'drained');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/drain`;
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return hook;
}

async function fleet(options: Parameters<typeof startFleet>[0]) {
  const f = await startFleet(options);
  closers.push(f.close);
  return f;
}

/**
 * n1, active in a tenant, its reimage under way and its command sent (the rebooting phase, 60 s); the timer's passes
 * are an hour apart: the test kicks them.
 */
async function rebootingNode(f: Awaited<ReturnType<typeof fleet>>) {
  const tenant = await f.tenants.create('training');
  await f.addNode('n1');
  await f.activeIn(tenant.id, 'n1');
  const running = await f.reimages.start(3_600_000);
  closers.push(running.stop);
  const op = await f.reimages.create({ kind: 'reimage', image: { name: 'gpu-os', version: '1' }, nodeIds: ['n1'], priority: 0, urgent: false, actor: 'test', reason: 'r' });
  const entry = async () => (await f.store.operationNodes(op.id))[0];
  const sent = await until(entry, (e) => e?.progress.phase === 'rebooting' && e.commandId !== null, 'the reimage command to be sent');
  return { entry, commandId: sent?.commandId ?? '' };
}

describe('reimage operations', () => {
  it('leaves an active node active when its drain hook answers 503, and fails only its entry, with the code drain-failed', async () => {
    const hook = await drainHook(503);
    const f = await fleet({ now: () => t0, drain: webhookDrain(hook.url, 5000) });
    const tenant = await f.tenants.create('training');
    await f.addNode('n1');
    await f.activeIn(tenant.id, 'n1');
    const op = await f.reimages.create({ kind: 'reimage', image: { name: 'gpu-os', version: '1' }, nodeIds: ['n1'], priority: 0, urgent: false, actor: 'test', reason: 'kernel update' });
    const finished = await until(() => f.store.getOperation(op.id), (o) => o?.state !== 'running', 'the operation to finish');
    expect(finished?.state).toBe('failed');
    expect(hook.calls).toBe(1);
    const [entry] = await f.store.operationNodes(op.id);
    expect(entry?.progress).toMatchObject({ phase: 'failed', failure: { code: 'drain-failed', phase: 'draining', details: expect.stringContaining('answered 503') } });
    // Nothing was done to the node: it is active in its tenant, with no transition since it got there.
    expect(await f.node('n1')).toMatchObject({ state: 'active', tenant: tenant.id });
    expect((await f.store.history('n1')).at(-1)).toMatchObject({ event: 'provisioned', actor: 'test' });
  });

  it('gives a node back to its tenant when its isolation fails before it went down: active again, not failed, with the code isolate-failed', async () => {
    let down = false;
    const f = await fleet({ now: () => t0, fabricDown: () => down });
    const tenant = await f.tenants.create('training');
    await f.addNode('n1');
    await f.activeIn(tenant.id, 'n1');
    down = true;
    const op = await f.reimages.create({ kind: 'reimage', image: { name: 'gpu-os', version: '1' }, nodeIds: ['n1'], priority: 0, urgent: false, actor: 'test', reason: 'r' });
    await until(() => f.store.getOperation(op.id), (o) => o?.state !== 'running', 'the operation to finish');
    await f.reimages.settled();
    expect((await f.store.operationNodes(op.id))[0]?.progress.failure).toMatchObject({ code: 'isolate-failed', phase: 'isolating', details: 'switch leaf-1 unreachable' });
    expect(await f.node('n1')).toMatchObject({ state: 'active', tenant: tenant.id });
    expect((await f.store.history('n1')).slice(-2).map((h) => h.event)).toEqual(['provision', 'provision-aborted']);
  });

  it('finishes an operation whose nodes all ended even when a thousand newer operations came after it', async () => {
    const store = openSqliteFleetStore({ path: ':memory:' });
    const f = await fleet({ now: () => t0, store });
    const old = { id: 'old', kind: 'reimage' as const, state: 'running' as const, image: { name: 'gpu-os', version: '1' }, priority: 0, urgent: false, actor: 'test', reason: 'r', createdAt: new Date(t0.getTime() - 86_400_000), updatedAt: t0 };
    await store.createOperation(old, [{ operationId: 'old', nodeId: 'gone', position: 0, rack: '', tenant: null, progress: queuedProgress(), commandId: null, updatedAt: t0 }]);
    // The manager stopped after the last node ended but before the operation was finished.
    await store.saveOperationNode('old', 'gone', { ...queuedProgress(), phase: 'done', message: 'reimaged' }, null, t0);
    for (let i = 0; i < 1000; i += 1) await store.createOperation({ ...old, id: `newer-${String(i).padStart(4, '0')}`, state: 'succeeded', createdAt: new Date(t0.getTime() - i) }, []);
    f.reimages.kick();
    expect(await until(() => store.getOperation('old'), (o) => o?.state !== 'running', 'the old operation to finish')).toMatchObject({ state: 'succeeded' });
  });

  it('takes, after a restart, the step of a report stored on its command whose own step the stop cut off', async () => {
    const now = () => t0;
    const store = openSqliteFleetStore({ path: ':memory:' });
    // The first manager: its reimage sends the command, then it stops.
    const first = await startFleet({ now, store: { ...store, close: async () => undefined } });
    const tenant = await first.tenants.create('training');
    await first.addNode('n1');
    await first.activeIn(tenant.id, 'n1');
    const running = await first.reimages.start(3_600_000);
    const op = await first.reimages.create({ kind: 'reimage', image: { name: 'gpu-os', version: '1' }, nodeIds: ['n1'], priority: 0, urgent: false, actor: 'test', reason: 'r' });
    const entry = async () => (await store.operationNodes(op.id))[0];
    const sent = await until(entry, (e) => e?.progress.phase === 'rebooting' && e.commandId !== null, 'the reimage command to be sent');
    await running.stop();
    await first.close();
    // The agent's reboot ack was written on the command, and the manager died before the step it causes.
    expect(await store.updateCommand(sent!.commandId!, ['sent'], { state: 'running', message: 'rebooting' }, t0)).toBe(true);

    // The next manager on the same store takes that step at once, instead of waiting out the phase's deadline.
    const second = await fleet({ now, store });
    closers.push((await second.reimages.start(3_600_000)).stop);
    const resumed = await until(entry, (e) => e?.progress.phase === 'installing', 'the resumed entry to take the reported reboot');
    expect(resumed?.progress.evidence).toMatchObject({ rebootBy: 'agent', rebootAckedAt: expect.any(Date) });
  });

  it('takes, after a restart, the step of an agent\'s refusal stored on its command whose own step the stop cut off', async () => {
    const now = () => t0;
    const store = openSqliteFleetStore({ path: ':memory:' });
    const first = await startFleet({ now, store: { ...store, close: async () => undefined } });
    const tenant = await first.tenants.create('training');
    await first.addNode('n1');
    await first.activeIn(tenant.id, 'n1');
    const running = await first.reimages.start(3_600_000);
    const op = await first.reimages.create({ kind: 'reimage', image: { name: 'gpu-os', version: '1' }, nodeIds: ['n1'], priority: 0, urgent: false, actor: 'test', reason: 'r' });
    const entry = async () => (await store.operationNodes(op.id))[0];
    const sent = await until(entry, (e) => e?.progress.phase === 'rebooting' && e.commandId !== null, 'the reimage command to be sent');
    await running.stop();
    await first.close();
    // The agent's refusal gave the command up in the store, and the manager died before the step it causes.
    expect(await store.updateCommand(sent!.commandId!, ['sent'], { state: 'expired', message: 'refused by the agent: not run: withdrawn' }, t0)).toBe(true);

    // The next manager takes it at once (no BMC to power-cycle with: failed), instead of waiting out the phase's deadline.
    const second = await fleet({ now, store });
    closers.push((await second.reimages.start(3_600_000)).stop);
    const resumed = await until(entry, (e) => e?.progress.phase === 'failed', 'the resumed entry to take the refusal');
    expect(resumed?.progress.failure).toMatchObject({ code: 'timeout', phase: 'rebooting' });
  });

  it('does not count the time the manager was down against a reimage in flight: its deadline moves by the downtime', async () => {
    let clock = t0;
    const now = () => clock;
    const store = openSqliteFleetStore({ path: ':memory:' });
    const first = await startFleet({ now, store: { ...store, close: async () => undefined } });
    const tenant = await first.tenants.create('training');
    for (const id of ['n1', 'n2']) {
      await first.addNode(id);
      await first.activeIn(tenant.id, id);
    }
    const running = await first.reimages.start(3_600_000);
    const op = await first.reimages.create({ kind: 'reimage', image: { name: 'gpu-os', version: '1' }, nodeIds: ['n1', 'n2'], priority: 0, urgent: false, actor: 'test', reason: 'r' });
    const entries = () => store.operationNodes(op.id);
    const sent = await until(entries, (e) => e.every((n) => n.progress.phase === 'rebooting' && n.progress.deadlineAt !== null), 'both reboot commands to be sent');
    await running.stop();
    await first.close();
    const deadline = sent[0]!.progress.deadlineAt!;
    // The manager is down past the phase's deadline (a slow restart).
    const downtimeMs = deadline.getTime() - t0.getTime() + 60_000;
    clock = new Date(t0.getTime() + downtimeMs);

    const second = await fleet({ now, store });
    closers.push((await second.reimages.start(50, downtimeMs)).stop);
    await second.reimages.settled();
    const moved = await until(entries, (e) => e.every((n) => n.progress.deadlineAt!.getTime() === deadline.getTime() + downtimeMs), 'the deadlines to move by the downtime');
    expect(moved.map((n) => n.progress.phase)).toEqual(['rebooting', 'rebooting']);
    // The start's pass has run and found nothing due; only once the moved deadline passes does the phase time out.
    await second.reimages.settled();
    expect((await entries()).map((n) => n.progress.phase)).toEqual(['rebooting', 'rebooting']);
    clock = new Date(deadline.getTime() + downtimeMs + 1);
    await until(entries, (e) => e.every((n) => n.progress.phase === 'failed'), 'the phase to time out at its moved deadline');
  });

  it('withdraws the reimage command when the reimage gives up before the command would: the agent is refused when it claims it later', async () => {
    // The rebooting phase (60 s) ends before the command's own deadline (2 deliveries x 60 s ack timeout): a node
    // without a BMC that never answered is failed, and its reboot must not run when the node comes back.
    let clock = t0;
    const f = await fleet({ now: () => clock });
    const { entry, commandId } = await rebootingNode(f);
    clock = new Date(t0.getTime() + 61_000);
    f.reimages.kick();
    await until(entry, (e) => e?.progress.phase === 'failed', 'the rebooting phase to time out');
    await f.reimages.settled();

    expect(await f.store.getCommand(commandId)).toMatchObject({ state: 'expired', message: expect.stringContaining('the reimage gave up') });
    expect(await f.outbox.claim('n1', commandId)).toMatchObject({ verdict: 'withdrawn' });
  });

  it('withdraws the command before it writes the failure: a store error in between leaves the step to be taken again, not a command left to run', async () => {
    let clock = t0;
    const base = openSqliteFleetStore({ path: ':memory:' });
    let blips = 1;
    // The store fails once as the command is given up (a PostgreSQL blip; a kill -9 at that instant is the same).
    const store: FleetStore = {
      ...base,
      updateCommand: async (...args: Parameters<FleetStore['updateCommand']>) => {
        if (args[2].state === 'expired' && blips > 0) {
          blips -= 1;
          throw new Error('connection terminated unexpectedly');
        }
        return base.updateCommand(...args);
      },
    };
    const f = await fleet({ now: () => clock, store });
    const { entry, commandId } = await rebootingNode(f);
    clock = new Date(t0.getTime() + 61_000);
    f.reimages.kick();
    await f.reimages.settled();
    expect(blips).toBe(0);
    // Before: the failure was written first, the node left the open set, and nothing gave the command up again.
    f.reimages.kick();
    await until(entry, (e) => e?.progress.phase === 'failed', 'the failure to be written on a later pass');
    await f.reimages.settled();
    expect(await base.getCommand(commandId)).toMatchObject({ state: 'expired' });
  });

  it('says so when the node claimed its command just as the reimage gave up (the claim won: it may still reboot)', async () => {
    let clock = t0;
    const f = await fleet({ now: () => clock });
    const { entry, commandId } = await rebootingNode(f);
    expect(await f.outbox.claim('n1', commandId)).toEqual({ verdict: 'run' });
    clock = new Date(t0.getTime() + 61_000);
    f.reimages.kick();
    const failed = await until(entry, (e) => e?.progress.phase === 'failed', 'the rebooting phase to time out');
    expect(failed?.progress.failure?.details).toContain('the node claimed its command as the reimage gave up');
  });

  it('writes the command\'s id on the node\'s step before the command goes out: a replica killed between the two leaves no reboot without it', async () => {
    // The boot endpoint (of any replica) serves the install script only to a node whose step names its command. Before,
    // the id was written after the publish: a kill -9 between the two sent the rebooting node to its local disk, and
    // its reimage failed ("booted again, but not into the network boot of this reimage"; replica-takeover e2e on CI).
    const f = await fleet({ now: () => t0 });
    const storedAtPublish: Array<string | null> = [];
    const publish = f.broker.publish.bind(f.broker);
    f.broker.publish = async (topic, payload, options) => {
      if (topic.endsWith('/commands')) storedAtPublish.push((await f.store.openOperationNodes())[0]?.commandId ?? null);
      return publish(topic, payload, options);
    };
    const { commandId } = await rebootingNode(f);
    expect(storedAtPublish).toEqual([commandId]);
  });

  it('sends no reimage command for a node whose step moved on before the send-command effect ran (a stale timeout failed it first)', async () => {
    // Hostile review: the timeout was queued on the node's chain before the effect; the effect then wrote the command
    // on the failed step and sent it, and nothing withdrew it: the failed node rebooted into PXE.
    const f = await fleet({ now: () => t0 });
    await rebootingNode(f);
    const [row] = await f.store.openOperationNodes();
    const sent: string[] = [];
    const going: string[] = [];
    const effects = createReimageEffects({
      store: f.store, bmcFor: async () => null, bootScriptUrl: () => 'http://m/boot', onError: () => undefined,
      outbox: { send: async (nodeId: string) => void sent.push(nodeId) },
    } as unknown as ReimageDeps);
    await effects({ ...row!, progress: { ...row!.progress, phase: 'failed' } }, 'send-command', { signal: () => undefined, commandGoingOut: async (id) => void going.push(id) });
    expect({ sent, going }).toEqual({ sent: [], going: [] });
  });

  it('refuses a node that another operation holds, however the two requests race', async () => {
    const f = await fleet({ now: () => t0, drain: () => new Promise(() => undefined) });
    const tenant = await f.tenants.create('training');
    for (const id of ['n1', 'n2']) {
      await f.addNode(id);
      await f.activeIn(tenant.id, id);
    }
    const request = (nodeIds: string[]) => f.reimages.create({ kind: 'reimage', image: { name: 'gpu-os', version: '1' }, nodeIds, priority: 0, urgent: false, actor: 'test', reason: 'r' });
    const results = await Promise.allSettled([request(['n1']), request(['n2', 'n1'])]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = results.find((r) => r.status === 'rejected');
    expect(refused?.reason).toBeInstanceOf(DomainError);
    expect(refused?.reason).toMatchObject({ code: 'conflict' });
    expect((await f.store.openOperationNodes()).map((n) => n.nodeId).sort()).toEqual(results[0]?.status === 'fulfilled' ? ['n1'] : ['n1', 'n2']);
  });
});

describe('the reimage pass', () => {
  it('never runs twice at once, and a slow pass does not walk a node that ended meanwhile through its old phase again', async () => {
    let now = t0;
    const cycles: Date[] = [];
    const bmc = { setNextBootPxe: async () => undefined, powerCycle: async () => void cycles.push(now) };
    const base = openSqliteFleetStore({ path: ':memory:' });
    // The slow dependency: while `gate` is set, a pass's read of the open entries comes back only when it is released.
    let gate: Promise<void> | null = null;
    let reading = 0;
    let maxReading = 0;
    let reads = 0;
    const store: FleetStore = {
      ...base,
      async openOperationNodes() {
        reading += 1;
        maxReading = Math.max(maxReading, reading);
        try {
          const rows = await base.openOperationNodes();
          if (gate) await gate;
          return rows;
        } finally {
          reading -= 1;
          reads += 1;
        }
      },
    };
    const f = await fleet({ now: () => now, store, bmc });
    const sent: string[] = [];
    const send = f.outbox.send;
    f.outbox.send = (...args) => {
      sent.push(args[0]);
      return send(...args);
    };
    const tenant = await f.tenants.create('training');
    await f.addNode('n1');
    await f.activeIn(tenant.id, 'n1');
    // Listening to the agents' reports; the timer's passes are out of the way (an hour apart): the test kicks them.
    const running = await f.reimages.start(3_600_000);
    closers.push(running.stop);
    const op = await f.reimages.create({ kind: 'reimage', image: { name: 'gpu-os', version: '1' }, nodeIds: ['n1'], priority: 0, urgent: false, actor: 'test', reason: 'r' });
    const entry = async () => (await base.operationNodes(op.id))[0];
    await until(entry, (e) => e?.progress.phase === 'rebooting' && e.commandId !== null, 'the reimage command to be sent');
    await f.reimages.settled();

    let release = (): void => undefined;
    gate = new Promise((resolve) => (release = resolve));
    const before = reads;
    f.reimages.kick();
    await until(() => reading, (n) => n === 1, 'a pass to read the open entries');
    // Kicked again and again while that pass is slow: no second pass starts beside it.
    for (let i = 0; i < 5; i += 1) f.reimages.kick();
    // Meanwhile the agent reports the reimage failed: the node's entry ends.
    const failed = create(CommandProgressSchema, { commandId: (await entry())?.commandId ?? '', phase: CommandPhase.FAILED, message: 'disk gone' });
    await f.broker.publish('mf/v1/nodes/n1/progress', toBinary(CommandProgressSchema, failed), { qos: 1, retain: false });
    await until(entry, (e) => e?.progress.phase === 'failed', 'the entry to fail');
    // The slow pass comes back after the rebooting phase's deadline, with what it read before the node's entry ended.
    now = new Date(t0.getTime() + 120_000);
    gate = null;
    release();
    await until(() => reads, (n) => n >= before + 2, 'the pass asked for meanwhile to run after the slow one');
    await f.reimages.settled();

    expect(maxReading).toBe(1);
    expect(sent).toEqual(['n1']);
    expect(cycles).toEqual([]);
    expect((await entry())?.progress).toMatchObject({ phase: 'failed', failure: { code: 'agent-failed', phase: 'rebooting' } });
    expect(await base.getOperation(op.id)).toMatchObject({ state: 'failed' });
  }, 20_000);
});

describe('reimage effects under the reimaging lease', () => {
  it('makes no power cycle once the lease is gone from the store, even while the replica still believes it holds it', async () => {
    const calls: string[] = [];
    const store = openSqliteFleetStore({ path: ':memory:' });
    const epoch = (await store.claimLease('singleton/node-loops', 'a', 600_000)) ?? 0;
    const fence = { lease: 'singleton/node-loops', holder: 'a', epoch };
    // The replica is paused between the BMC's two calls and wakes past its lease: another replica holds it now.
    const bmc = {
      setNextBootPxe: async () => {
        calls.push('pxe');
        if (calls.length > 1) {
          await store.releaseLease(fence.lease, 'a', epoch);
          await store.claimLease(fence.lease, 'b', 600_000);
        }
      },
      powerCycle: async () => void calls.push('cycle'),
    };
    const f = await fleet({ now: () => t0, store, bmc, fence: () => fence });
    const { entry, commandId } = await rebootingNode(f);
    expect(calls).toEqual(['pxe']);
    // The agent reports it is rebooting: the manager power-cycles the node into PXE, here up to the first BMC call.
    const running = create(CommandProgressSchema, { commandId, phase: CommandPhase.RUNNING, message: 'disks flushed' });
    await f.broker.publish('mf/v1/nodes/n1/progress', toBinary(CommandProgressSchema, running), { qos: 1, retain: false });
    await until(() => calls, (c) => c.length >= 2, 'the power cycle to begin');
    await f.reimages.settled();
    expect(calls).toEqual(['pxe', 'pxe']);
    // Nothing more done by this replica: the step, written before the pause, waits in its phase for the lease's holder.
    expect((await entry())?.progress.phase).toBe('installing');
    expect(f.errors).toEqual([]);
  });
});
