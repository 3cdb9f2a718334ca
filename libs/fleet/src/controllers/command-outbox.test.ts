// The command outbox on the real embedded broker (in process), with a fake clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { CommandPhase, CommandProgressSchema, CommandSchema } from '@metalfleet/proto';
import { createNodeBroker, type NodeBroker } from '@metalfleet/manager-transport';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { FleetEvents, type FleetEvent } from '../events/fleet-events.ts';
import { createCommandOutbox, type CommandOutbox } from './command-outbox.ts';

let broker: NodeBroker;
let store: FleetStore;
let outbox: CommandOutbox;
let clock = new Date('2026-11-21T10:00:00Z');
const seen: FleetEvent[] = [];
const delivered: Array<{ node: string; id: string; kind: string | undefined }> = [];
const tick = (ms: number) => { clock = new Date(clock.getTime() + ms); };
const reboot = { kind: 'reboot', args: { pxeNext: false } } as const;
const reimage = {
  kind: 'reimage', args: { imageName: 'ubuntu', imageVersion: '24.04', sha256: 'ab'.repeat(32), bootScriptUrl: 'http://m/boot/ipxe?mac=x', powerCycledByBmc: false },
} as const;
const settle = () => new Promise((r) => setTimeout(r, 50));

function progress(commandId: string, phase: CommandPhase, message = ''): Uint8Array {
  return toBinary(CommandProgressSchema, create(CommandProgressSchema, { commandId, phase, message }));
}

beforeAll(async () => {
  store = openSqliteFleetStore({ path: ':memory:' });
  for (const id of ['n1', 'n2']) {
    await store.createNode({ id, hostname: id, identity: { systemUuid: id, systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: 'h', at: clock });
  }
  const events = new FleetEvents();
  events.on((e) => seen.push(e));
  broker = await createNodeBroker({ maxPayloadBytes: 4096, authenticateNode: async () => false });
  await broker.subscribe('mf/v1/nodes/+/commands', ({ topic, payload }) => {
    const command = fromBinary(CommandSchema, payload);
    delivered.push({ node: topic.split('/')[3] ?? '', id: command.commandId, kind: command.kind.case });
  });
  let n = 0;
  outbox = createCommandOutbox({ store, broker, events, now: () => clock, newId: () => `c${(n += 1)}`, ackTimeoutMs: 30_000, maxAttempts: 3, maxPayloadBytes: 4096 });
  await outbox.listen();
});

afterAll(async () => {
  await broker.close();
  await store.close();
});

describe('command outbox', () => {
  it('persists, publishes, sends again until acked, and gives up after the last try', async () => {
    const sent = await outbox.send('n1', reboot, null);
    await settle();
    expect(delivered).toEqual([{ node: 'n1', id: sent.id, kind: 'reboot' }]);
    await outbox.sweep();
    expect(delivered).toHaveLength(1); // not due yet
    tick(30_001);
    await outbox.sweep();
    tick(30_001);
    await outbox.sweep();
    await settle();
    expect(delivered.map((d) => d.id)).toEqual([sent.id, sent.id, sent.id]);
    tick(30_001);
    await outbox.sweep();
    expect(await store.getCommand(sent.id)).toMatchObject({ state: 'expired', attempts: 3, message: 'no ack after 3 deliveries; withdrawn from the node' });
    expect(seen).toContainEqual(expect.objectContaining({ type: 'command-expired', commandId: sent.id, attempts: 3 }));
  });

  it('moves a command on its own node\'s reports, and refuses another node\'s or unknown ids without changing anything', async () => {
    const sent = await outbox.send('n1', { kind: 'reset-gpu', args: { gpuIndex: 2 } }, 'op-1');
    await broker.publish('mf/v1/nodes/n2/progress', progress(sent.id, CommandPhase.SUCCEEDED, 'spoofed'), { qos: 1, retain: false });
    await broker.publish('mf/v1/nodes/n1/progress', progress('nope', CommandPhase.ACKED), { qos: 1, retain: false });
    await broker.publish('mf/v1/nodes/n1/progress', new Uint8Array([0xff, 0xff]), { qos: 1, retain: false });
    await settle();
    expect((await store.getCommand(sent.id))?.state).toBe('sent');
    expect(seen.filter((e) => e.type === 'bad-message').map((e) => e.type === 'bad-message' && e.error)).toEqual([
      `progress for command ${sent.id}, which is not this node's`, 'progress for command nope, which is not this node\'s', expect.any(String),
    ]);
    await broker.publish('mf/v1/nodes/n1/progress', progress(sent.id, CommandPhase.ACKED), { qos: 1, retain: false });
    await broker.publish('mf/v1/nodes/n1/progress', progress(sent.id, CommandPhase.SUCCEEDED, 'GPU 2 reset'), { qos: 1, retain: false });
    await broker.publish('mf/v1/nodes/n1/progress', progress(sent.id, CommandPhase.ACKED), { qos: 1, retain: false }); // late, changes nothing
    await settle();
    expect(await store.getCommand(sent.id)).toMatchObject({ state: 'succeeded', message: 'GPU 2 reset' });
    expect(seen.filter((e) => e.type === 'command-progress').map((e) => e.type === 'command-progress' && `${e.phase} ${e.operationId}`)).toEqual(['acked op-1', 'succeeded op-1']);
  });

  it('sends the same id only once, and after a restart delivers again what was not acked', async () => {
    const first = await outbox.send('n2', reimage, 'op-2', 'reimage-op-2-n2');
    const again = await outbox.send('n2', reimage, 'op-2', 'reimage-op-2-n2');
    expect(again.id).toBe(first.id);
    await settle();
    const before = delivered.filter((d) => d.id === first.id).length;
    expect(before).toBe(1);
    // Only this one is unacknowledged: the expired and the succeeded commands stay as they are.
    expect(await outbox.resume()).toBe(1);
    await settle();
    expect(delivered.filter((d) => d.id === first.id).length).toBe(2);
  });
});

describe('command outbox arguments', () => {
  it('refuses a command whose arguments do not fit its kind, and stores and sends nothing', async () => {
    const before = delivered.length;
    const open = (await store.openCommands()).length;
    await expect(outbox.send('n1', { kind: 'reset-gpu', args: { gpuIndex: -1 } }, null)).rejects.toMatchObject({
      code: 'invalid-argument', message: 'reset-gpu command: gpuIndex must be an integer from 0 to 63',
    });
    await expect(outbox.send('n1', { kind: 'reimage', args: { ...reimage.args, sha256: 'not-a-digest' } }, null)).rejects.toMatchObject({ code: 'invalid-argument' });
    await settle();
    expect(delivered.length).toBe(before);
    expect((await store.openCommands()).length).toBe(open);
  });

  it('sends each kind\'s arguments field for field', async () => {
    const sent = await outbox.send('n1', { kind: 'reset-gpu', args: { gpuIndex: 5 } }, null);
    let message: ReturnType<typeof fromBinary<typeof CommandSchema>> | undefined;
    await broker.subscribe('mf/v1/nodes/n1/commands', ({ payload }) => {
      const decoded = fromBinary(CommandSchema, payload);
      if (decoded.commandId === sent.id) message = decoded;
    });
    await outbox.resume();
    await settle();
    expect(message?.kind).toEqual({ case: 'resetGpu', value: expect.objectContaining({ gpuIndex: 5 }) });
  });
});

describe('command outbox sweep', () => {
  it('never overlaps itself: a sweep started while a slow one publishes joins it, and each due command goes out once', async () => {
    const slowStore = openSqliteFleetStore({ path: ':memory:' });
    await slowStore.createNode({ id: 'n1', hostname: 'n1', identity: { systemUuid: 'n1', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: 'h', at: clock });
    const published: string[] = [];
    let release: () => void = () => undefined;
    let gate: Promise<void> | null = null;
    let blocked: () => void = () => undefined;
    const publishing = new Promise<void>((resolve) => { blocked = resolve; });
    // A broker whose publishes hang while the gate is closed, as on a congested broker.
    const slowBroker: NodeBroker = {
      ...broker,
      publish: async (_topic, payload) => {
        published.push(fromBinary(CommandSchema, payload).commandId);
        if (gate && published.length === 3) {
          blocked();
          await gate;
        }
      },
    };
    let now = new Date('2026-11-21T10:00:00Z');
    let ids = 0;
    const slow = createCommandOutbox({ store: slowStore, broker: slowBroker, events: new FleetEvents(), now: () => now, newId: () => `slow-${(ids += 1)}`, ackTimeoutMs: 30_000, maxAttempts: 5, maxPayloadBytes: 4096 });
    // Two kinds: a second reboot would supersede the first.
    await slow.send('n1', reboot, null);
    await slow.send('n1', reimage, null);
    expect(published).toEqual(['slow-1', 'slow-2']);
    now = new Date(now.getTime() + 30_001);
    gate = new Promise((resolve) => { release = resolve; });
    const first = slow.sweep();
    await publishing;
    // The periodic timer fires again while the first sweep still waits on the broker.
    const second = slow.sweep();
    release();
    await Promise.all([first, second]);
    // Each due command once more: the second sweep did not publish slow-2 behind the first one's back.
    expect(published.toSorted()).toEqual(['slow-1', 'slow-1', 'slow-2', 'slow-2']);
    expect(await slowStore.getCommand('slow-2')).toMatchObject({ state: 'sent', attempts: 2 });
    await slowStore.close();
  });

  it('does not send again a command that moved on (acked by its node) between the sweep\'s read and its resend', async () => {
    const racyStore = openSqliteFleetStore({ path: ':memory:' });
    await racyStore.createNode({ id: 'n1', hostname: 'n1', identity: { systemUuid: 'n1', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: 'h', at: clock });
    let now = new Date('2026-11-21T10:00:00Z');
    // The node's ack is stored right after the sweep (or resume) read the open commands, before it sends them again.
    const acking = new Proxy(racyStore, {
      get: (target, key: keyof FleetStore) => (key === 'openCommands'
        ? async () => {
          const open = await target.openCommands();
          for (const command of open) await target.updateCommand(command.id, ['sent'], { state: 'acked' }, now);
          return open;
        }
        : target[key]),
    });
    const published: string[] = [];
    const events: FleetEvent[] = [];
    const bus = new FleetEvents();
    bus.on((e) => events.push(e));
    const recording: NodeBroker = { ...broker, publish: async (_topic, payload) => { published.push(fromBinary(CommandSchema, payload).commandId); } };
    const racy = createCommandOutbox({ store: acking, broker: recording, events: bus, now: () => now, newId: () => 'racy-1', ackTimeoutMs: 30_000, maxAttempts: 5, maxPayloadBytes: 4096 });
    await racy.send('n1', reboot, null);
    now = new Date(now.getTime() + 30_001);
    await racy.sweep();
    expect(published).toEqual(['racy-1']);
    expect(await racyStore.getCommand('racy-1')).toMatchObject({ state: 'acked', attempts: 1 });
    expect(events.filter((e) => e.type === 'command-sent')).toHaveLength(1);
    await racyStore.updateCommand('racy-1', ['acked'], { state: 'sent' }, now);
    expect(await racy.resume()).toBe(0);
    expect(published).toEqual(['racy-1']);
    await racyStore.close();
  });
});
