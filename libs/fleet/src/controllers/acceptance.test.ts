// The acceptance controller on a real store and lifecycle, with the outbox's
// two ends in hand: what it sends a node entering `accepting`, and the agent's
// reports it judges.
import { beforeEach, describe, expect, it } from 'vitest';
import { defaultSkuProfiles, emptyInventory, type AcceptanceFacts, type AgentCommand, type Gpu } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { FleetEvents } from '../events/fleet-events.ts';
import { startAcceptance, suiteCommandId } from './acceptance.ts';
import type { CommandProgress } from './command-outbox.ts';
import { createLifecycle, type Lifecycle } from './lifecycle.ts';

const GiB = 1024 ** 3;
let store: FleetStore;
let events: FleetEvents;
let lifecycle: Lifecycle;
let sent: Array<{ nodeId: string; command: AgentCommand }>;
let givenUp: Array<{ commandId: string; reason: string }>;
let judge: (progress: CommandProgress) => Promise<void>;
let acceptance: ReturnType<typeof startAcceptance>;
const errors: unknown[] = [];
let now = new Date('2026-11-28T10:00:00Z');
/** The clock moves on a second at each step of a test. */
const tick = () => (now = new Date(now.getTime() + 1000));

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await new Promise((r) => setImmediate(r));
}

const gpu = (index: number): Gpu => ({
  index, model: 'NVIDIA H100 80GB HBM3', uuid: `GPU-${index}`, serial: `S${index}`, vbiosVersion: '96.00.99.00.01', driverVersion: '570.124.06', cudaVersion: '12.8',
  pciBusId: `0000:1${index}:00.0`, memoryBytes: 80 * GiB, pcieMaxGen: 5, pcieMaxWidth: 16, pcieLinkMaxGen: 5, pcieCurrentWidth: 16, migMode: 'Disabled', powerLimitW: 700, defaultPowerLimitW: 700, eccMode: 'Enabled',
});

async function nodeIn(id: string, path: Array<[string, string, string]>): Promise<void> {
  const inventory = emptyInventory();
  inventory.gpus = Array.from({ length: 8 }, (_, i) => gpu(i));
  inventory.nics = Array.from({ length: 8 }, (_, i) => ({ name: `ib${i}`, mac: `aa:00:00:00:00:0${i}`, speedMbps: 400_000, linkUp: true, driver: 'mlx5', firmware: '', physical: true, neighbor: null }));
  inventory.disks = Array.from({ length: 8 }, (_, i) => ({ name: `nvme${i}n1`, model: 'M', serial: `D${i}`, sizeBytes: 3.84e12, nvme: true, firmware: '' }));
  inventory.memory.dimms = Array.from({ length: 32 }, (_, d) => ({ locator: `DIMM_${d}`, sizeBytes: 64 * GiB, type: 'DDR5', speedMts: 4800, serial: `M${d}`, ecc: true }));
  await store.createNode({ id, hostname: id, identity: { systemUuid: id, systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory, agentVersion: '', credentialHash: 'h', at: now });
  for (const [from, to, event] of path) await store.transitionNode(id, from as never, to as never, event as never, { actor: 'test', reason: 'setup', at: now });
}

const healthy = (busbw = 480.3): AcceptanceFacts => ({
  nvlinks: Array.from({ length: 8 }, (_, g) => ({ gpuIndex: g, uuid: '', links: Array(18).fill(26.562) })),
  nccl: { busbwGBs: busbw, sizeBytes: 8 * GiB, wrongResults: 0, devices: 8, tool: 'all_reduce_perf' }, dcgm: null, outputs: [{ tool: 'all_reduce_perf', text: '…' }],
  copies: { hostToDevice: { gbs: 55.6, gpu: 0 }, peer: { gbs: 389.1, from: 0, to: 1 } },
  stress: { tool: 'gpu_burn', seconds: 300, sampled: true, gpus: Array.from({ length: 8 }, (_, index) => ({ index, result: 'OK', errors: 0, peakTempC: 63, clockEvents: [] })) },
});
const report = (nodeId: string, commandId: string, extra: Partial<CommandProgress> = {}): CommandProgress => ({
  commandId, nodeId, operationId: null, kind: 'accept', phase: 'succeeded', message: '', verifiedSha256: '', acceptance: healthy(), at: now, madeAt: now, ...extra,
});

/** Into `accepting` through the lifecycle: the suite goes out; the id of its accept command. */
async function accepting(nodeId: string): Promise<string> {
  tick();
  await lifecycle.apply(nodeId, 'accept', 'inspection', 'healthy');
  await settle();
  return suiteCommandId(nodeId, now);
}

beforeEach(() => {
  now = new Date('2026-11-28T10:00:00Z');
  store = openSqliteFleetStore({ path: ':memory:' });
  events = new FleetEvents();
  lifecycle = createLifecycle({ store, events, now: () => now });
  sent = [];
  givenUp = [];
  acceptance = startAcceptance({
    store, events, lifecycle, profiles: async () => defaultSkuProfiles, now: () => now, onError: (e) => errors.push(e), retireAfterFailures: 2, suiteTimeoutMs: 3_600_000,
    outbox: {
      send: async (nodeId, command, _operationId, id) => {
        sent.push({ nodeId, command });
        const at = now;
        const record = { id: id ?? `c${sent.length}`, nodeId, operationId: null, ...command, state: 'sent' as const, attempts: 1, ackDeadlineAt: at, message: '', verifiedSha256: '', createdAt: at, updatedAt: at };
        await store.createCommand(record);
        return record;
      },
      giveUp: async (commandId, reason) => {
        givenUp.push({ commandId, reason });
        return store.updateCommand(commandId, ['pending', 'sent'], { state: 'expired', message: reason }, now);
      },
      follow: (follower) => {
        judge = follower;
        return () => undefined;
      },
    },
  });
});

describe('acceptance testing', () => {
  it('sends a node entering accepting its SKU\'s suite once; judges a pass into the pool', async () => {
    await nodeIn('n1', [['discovered', 'inspecting', 'inspect']]);
    await lifecycle.apply('n1', 'accept', 'inspection', 'healthy');
    await settle();
    expect(sent).toEqual([{ nodeId: 'n1', command: { kind: 'accept', args: { dcgmLevel: 3, nccl: true, nvbandwidth: true, stressSeconds: 300 } } }]);
    // The sweep finds the command open: not sent twice.
    await acceptance.sweep();
    expect(sent).toHaveLength(1);
    const command = suiteCommandId('n1', now);
    expect((await store.getCommand(command))?.kind).toBe('accept');
    await judge(report('n1', command));
    expect((await store.getNode('n1'))?.state).toBe('available');
    expect(await store.acceptanceRuns('n1', 5)).toMatchObject([{ commandId: command, profile: 'hgx-h100-8', passed: true }]);
    // The same report again (its PUBACK was lost): nothing more.
    await judge(report('n1', command));
    expect((await store.history('n1')).filter((h) => h.event === 'acceptance-passed')).toHaveLength(1);
  });

  it('sends a failing node to repair with the failing checks; a suite that did not run too; the second judged failure after a repair retires it', async () => {
    await nodeIn('n2', [['discovered', 'inspecting', 'inspect']]);
    await judge(report('n2', await accepting('n2'), { acceptance: healthy(301.4) }));
    expect((await store.getNode('n2'))?.state).toBe('repair');
    expect((await store.history('n2')).at(-1)?.reason).toBe('acceptance failed (hgx-h100-8): nccl-allreduce: 301.4 GB/s at 8 GiB (want ≥ 460 GB/s)');
    // Repaired once: fails (judged) → repair; repaired: the suite did not run (not counted: review finding) → repair;
    // repaired again: fails (judged, the second since the first repair) → retired.
    const extras = [{ acceptance: healthy(299) }, { phase: 'failed' as const, message: 'all_reduce_perf: exit 1', acceptance: null }, { acceptance: healthy(300) }];
    for (const [i, extra] of extras.entries()) {
      await lifecycle.apply('n2', 'repaired', 'api ops', 'reseated');
      await judge(report('n2', await accepting('n2'), extra));
      expect((await store.getNode('n2'))?.state).toBe(i < 2 ? 'repair' : 'retired');
    }
    const history = await store.history('n2');
    expect(history.slice(-3).map((h) => `${h.from} → ${h.to}: ${h.reason}`)).toEqual([
      'inspecting → accepting: healthy',
      'accepting → repair: acceptance failed (hgx-h100-8): nccl-allreduce: 300 GB/s at 8 GiB (want ≥ 460 GB/s)',
      'repair → retired: failed acceptance 2 times after repair (--retire-after-acceptance-failures 2): retired, its evidence kept',
    ]);
    expect(history.some((h) => h.reason === 'the acceptance suite did not run: all_reduce_perf: exit 1')).toBe(true);
  });

  it('judges only accept commands, and only for a node that is accepting', async () => {
    await nodeIn('n3', [['discovered', 'inspecting', 'inspect']]);
    await judge(report('n3', await accepting('n3'), { kind: 'reset-gpu' }));
    expect((await store.getNode('n3'))?.state).toBe('accepting');
    await nodeIn('n4', [['discovered', 'inspecting', 'inspect'], ['inspecting', 'available', 'inspection-passed']]);
    await judge(report('n4', 'c-late', { acceptance: healthy(1) }));
    expect((await store.getNode('n4'))?.state).toBe('available');
    expect(await store.acceptanceRuns('n4', 5)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('judges only the current run: a pass kept from before the repair, replayed by a tenant, passes nothing (review finding)', async () => {
    await nodeIn('n5', [['discovered', 'inspecting', 'inspect']]);
    const first = await accepting('n5');
    await judge(report('n5', first));
    expect((await store.getNode('n5'))?.state).toBe('available');
    // Failed in service, repaired, back in accepting with a new suite sent.
    tick();
    await lifecycle.apply('n5', 'fail', 'presence', 'offline');
    await lifecycle.apply('n5', 'repair', 'api ops', 'GPU 5 replaced');
    await lifecycle.apply('n5', 'repaired', 'api ops', 'done');
    const second = await accepting('n5');
    expect(second).not.toBe(first);
    await judge(report('n5', first));
    expect((await store.getNode('n5'))?.state).toBe('accepting');
    await judge(report('n5', second, { acceptance: healthy(250) }));
    expect((await store.getNode('n5'))?.state).toBe('repair');
  });

  it('moves the node by the verdict kept when the same report comes again (the manager killed between the two)', async () => {
    await nodeIn('n6', [['discovered', 'inspecting', 'inspect']]);
    const command = await accepting('n6');
    // The run was judged and kept as failed, then the manager died before the move.
    await store.recordAcceptance({ nodeId: 'n6', commandId: command, profile: 'hgx-h100-8', passed: false, checks: [{ name: 'nvlink', measured: 'GPU 5: 16 up', threshold: '18 up', verdict: 'fail' }], outputs: [], at: now });
    await judge(report('n6', command));
    expect((await store.getNode('n6'))?.state).toBe('repair');
    expect((await store.history('n6')).at(-1)?.reason).toBe('acceptance failed (hgx-h100-8): nvlink: GPU 5: 16 up (want 18 up)');
  });

  it('sends to repair a node whose acknowledged suite has not finished in time (no way out of accepting but retirement before)', async () => {
    await nodeIn('n7', [['discovered', 'inspecting', 'inspect']]);
    const command = await accepting('n7');
    await store.updateCommand(command, ['sent'], { state: 'acked' }, now);
    await acceptance.sweep();
    expect((await store.getNode('n7'))?.state).toBe('accepting');
    now = new Date(now.getTime() + 3_600_001);
    await acceptance.sweep();
    expect((await store.getNode('n7'))?.state).toBe('repair');
    expect((await store.history('n7')).at(-1)?.reason).toBe(`the acceptance suite did not finish within 3600 s (command ${command}, acked)`);
    expect(sent).toHaveLength(1);
  });

  it('sends to repair a node whose suite ended without a verdict taken (its report acknowledged before anyone judged it)', async () => {
    await nodeIn('n8', [['discovered', 'inspecting', 'inspect']]);
    const command = await accepting('n8');
    await store.updateCommand(command, ['sent'], { state: 'succeeded', message: 'ran' }, now);
    await acceptance.sweep();
    // A judgement may be under way: left a minute.
    expect((await store.getNode('n8'))?.state).toBe('accepting');
    now = new Date(now.getTime() + 60_001);
    await acceptance.sweep();
    expect((await store.history('n8')).at(-1)).toMatchObject({ to: 'repair', reason: 'the acceptance suite ended (succeeded: ran) without a verdict taken; inspect again' });
  });
  it('gives up a suite not yet started when its node leaves accepting: an operator sends it to repair (review finding)', async () => {
    await nodeIn('n9', [['discovered', 'inspecting', 'inspect']]);
    const command = await accepting('n9');
    // The operator sees a node they know is bad (or a suite that hangs) and sends it to repair without waiting.
    expect(await lifecycle.apply('n9', 'repair', 'api ops', 'GPU 3 fell off the bus in the lab')).toMatchObject({ ok: true, to: 'repair' });
    await settle();
    expect(givenUp).toEqual([{ commandId: command, reason: 'the node left accepting (repair: GPU 3 fell off the bus in the lab)' }]);
    expect((await store.getCommand(command))?.state).toBe('expired');
    // Its report, should it come anyway, moves nothing.
    await judge(report('n9', command));
    expect((await store.getNode('n9'))?.state).toBe('repair');
  });

  it('keeps a long reason (a node reporting 200 failing DCGM tests with long names) bounded in the history; the run keeps every check (review finding)', async () => {
    await nodeIn('n10', [['discovered', 'inspecting', 'inspect']]);
    const command = await accepting('n10');
    const dcgm = Array.from({ length: 200 }, (_, i) => ({ test: `test-${i}-${'x'.repeat(900)}`, gpuIds: ['0'], status: 'fail' as const, info: 'i'.repeat(1000), errorSeverity: null }));
    await judge(report('n10', command, { acceptance: { ...healthy(), dcgm } }));
    const last = (await store.history('n10')).at(-1);
    expect(last?.to).toBe('repair');
    expect(last?.reason.length).toBeLessThanOrEqual(2048);
    expect(last?.reason).toMatch(/^acceptance failed \(hgx-h100-8\): dcgm-diag: test-0-x+/);
    expect(last?.reason).toMatch(/… \[\d+ characters left out; the whole in the node's acceptance runs\]$/);
    expect((await store.acceptanceRuns('n10', 1))[0]?.checks.find((c) => c.name === 'dcgm-diag')?.measured.length).toBeGreaterThan(100_000);
  });

  it('reads the whole fleet every other sweep, not at each; a node another replica moved gets its suite within two sweeps (review findings)', async () => {
    let lists = 0;
    const listNodes = store.listNodes.bind(store);
    store.listNodes = async () => ((lists += 1), listNodes());
    await nodeIn('n11', [['discovered', 'inspecting', 'inspect']]);
    for (let i = 0; i < 6; i += 1) await acceptance.sweep();
    expect(lists).toBe(3);
    // Moved to accepting by another replica (no event here): found at the next read of the fleet.
    tick();
    await store.transitionNode('n11', 'inspecting', 'accepting', 'accept', { actor: 'reimage on replica A', reason: 'reimaged', at: now });
    let sweeps = 0;
    while (sent.length === 0 && sweeps < 10) {
      await acceptance.sweep();
      sweeps += 1;
    }
    expect(sweeps).toBeLessThanOrEqual(2);
    expect(sent).toEqual([{ nodeId: 'n11', command: expect.objectContaining({ kind: 'accept' }) }]);
  });

  it('sends one suite per entry into accepting, and judges its report, whatever the sending replica\'s clock (review finding: 2 s behind, a suite at every sweep and none judged)', async () => {
    await nodeIn('n12', [['discovered', 'inspecting', 'inspect']]);
    const entered = now;
    await lifecycle.apply('n12', 'accept', 'inspection', 'healthy');
    // The replica owning the node sweeps with a clock 2 s behind the one that moved it.
    now = new Date(entered.getTime() - 2000);
    await settle();
    for (let i = 0; i < 3; i += 1) await acceptance.sweep();
    expect(sent).toHaveLength(1);
    await judge(report('n12', suiteCommandId('n12', entered)));
    expect((await store.getNode('n12'))?.state).toBe('available');
  });

  it('never retires a tenant\'s node for suites its image could not run, nor counts failures from before its last pass (review finding: a tenant could get a good node retired by reimaging it)', async () => {
    await nodeIn('n13', [['discovered', 'inspecting', 'inspect'], ['inspecting', 'failed', 'inspection-failed'], ['failed', 'repair', 'repair']]);
    await lifecycle.apply('n13', 'repaired', 'api ops', 'fixed, long ago');
    await store.transitionNode('n13', 'inspecting', 'available', 'inspection-passed', { actor: 'test', reason: 'setup', at: now });
    await store.transitionNode('n13', 'available', 'allocated', 'allocate', { actor: 'test', reason: 'setup', at: now });
    await store.transitionNode('n13', 'allocated', 'active', 'provisioned', { actor: 'test', reason: 'setup', at: now });
    for (let i = 0; i < 2; i += 1) {
      // Reimaged by its tenant into an image without gpu_burn, accepted after the reimage: failed (replaced), then back.
      tick();
      await lifecycle.apply('n13', 'provision', 'reimage', 'tenant reimage');
      const command = await accepting('n13');
      await judge(report('n13', command, { acceptance: { ...healthy(), stress: null } }));
      expect((await store.getNode('n13'))?.state).toBe('failed');
      for (const [from, to, event] of [['failed', 'inspecting', 'retry'], ['inspecting', 'available', 'inspection-passed'], ['available', 'allocated', 'allocate'], ['allocated', 'active', 'provisioned']]) {
        await store.transitionNode('n13', from as never, to as never, event as never, { actor: 'test', reason: 'setup', at: now });
      }
    }
    expect((await store.getNode('n13'))?.state).toBe('active');
    expect((await store.history('n13')).some((h) => h.event === 'retire')).toBe(false);
  });

  it('retires on measured faults in a row after repair: a pass in between starts the count again', async () => {
    await nodeIn('n14', [['discovered', 'inspecting', 'inspect']]);
    const cycle = async (acceptance: AcceptanceFacts) => {
      await lifecycle.apply('n14', 'repaired', 'api ops', 'reseated');
      await judge(report('n14', await accepting('n14'), { acceptance }));
    };
    await judge(report('n14', await accepting('n14'), { acceptance: healthy(250) }));
    await cycle(healthy(260));
    expect((await store.getNode('n14'))?.state).toBe('repair');
    await cycle(healthy());
    expect((await store.getNode('n14'))?.state).toBe('available');
    // Failed later in service, repaired: failing again now is the first in a row since its pass.
    tick();
    await lifecycle.apply('n14', 'fail', 'presence', 'offline');
    await lifecycle.apply('n14', 'repair', 'api ops', 'PSU');
    await cycle(healthy(270));
    expect((await store.getNode('n14'))?.state).toBe('repair');
    await cycle(healthy(280));
    expect((await store.getNode('n14'))?.state).toBe('retired');
  });
});
