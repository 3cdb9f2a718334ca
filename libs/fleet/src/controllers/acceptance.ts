// Acceptance testing (--acceptance on): a node that passed inspection (or came
// back from repair and passed it) is `accepting` until its suite is judged.
// - A node that enters `accepting` gets an `accept` command (the suite its SKU
//   profile asks for). The replica that owns the node's shard sends it; the
//   sweep sends it for a node that has none yet (taken over, or a lost send).
// - The agent's SUCCEEDED report carries what it measured; the manager judges
//   it against the profile (judgeAcceptance), keeps the run with every check
//   and the tools' outputs, and moves the node: all passed → available; a
//   failed check → repair, the failing checks its reason.
// - A suite that did not run (the command failed, was refused or given up)
//   proves nothing: the node goes to repair, saying so; so does one that has
//   not finished within --acceptance-timeout-s once acknowledged.
// - Only the report of the node's current run is judged (the accept command
//   sent since it last entered `accepting`), and judged once: a kept verdict
//   is acted on again, never made again.
// - A repeat offender (--retire-after-acceptance-failures, default 2): a node
//   whose suite was judged failed that many times since its first repair is
//   retired from repair, its evidence kept (GET /api/v1/nodes/:id/evidence).
//   A suite that never ran is not counted.
import { acceptSuite, boundedReason, failingChecks, judgeAcceptance, measuredFault, nodeSku, type SkuProfile } from '@metalfleet/domain';
import type { CommandRecord, Fence, FleetStore } from '@metalfleet/store';
import type { FleetEvents } from '../events/fleet-events.ts';
import type { CommandOutbox, CommandProgress } from './command-outbox.ts';
import type { Lifecycle } from './lifecycle.ts';

export interface AcceptanceDeps {
  store: FleetStore;
  events: FleetEvents;
  lifecycle: Lifecycle;
  outbox: Pick<CommandOutbox, 'send' | 'follow' | 'giveUp'>;
  /** The SKU profiles in force (the operator's, then the defaults), read when a suite is sent and when one is judged. */
  profiles: () => Promise<readonly SkuProfile[]>;
  now: () => Date;
  onError: (error: unknown) => void;
  /** The fence under which this replica acts for the node (its shard's lease; null: another replica's node). None: every node. */
  fenceFor?: (nodeId: string) => Fence | null;
  /** Acceptance failures since the node's first repair after which it is retired; 0: never. */
  retireAfterFailures: number;
  /** How long an acknowledged suite may run before the node goes to repair (DCGM level 3 takes an hour or two). */
  suiteTimeoutMs: number;
}

const actor = 'acceptance';

/** The accept command of a node's entry into `accepting` (its time as stored): one per entry, the same on every replica. */
export const suiteCommandId = (nodeId: string, entered: Date) => `accept-${nodeId}-${entered.getTime()}`;

export function startAcceptance(deps: AcceptanceDeps): { sweep: () => Promise<void>; stop: () => void } {
  const { store, lifecycle } = deps;
  const own = (nodeId: string): { fence?: Fence } | null => {
    if (!deps.fenceFor) return {};
    const fence = deps.fenceFor(nodeId);
    return fence ? { fence } : null;
  };

  /**
   * The node's current run: when it last entered `accepting`, and the accept command sent for that entry (null: none
   * yet). Only this command's report is judged: one of an earlier run (a tenant replaying a pass it kept from before
   * the repair, a late report of a command given up) is not.
   */
  async function currentRun(nodeId: string): Promise<{ entered: Date; commandId: string; command: CommandRecord | null } | null> {
    const entered = (await store.history(nodeId)).findLast((h) => h.to === 'accepting')?.at;
    if (!entered) return null;
    // Named after the entry it belongs to, as the store keeps it: every replica finds the same one, whatever its clock
    // (matched by creation time, a replica 2 s behind sent a suite at every sweep and judged none of their reports).
    const commandId = suiteCommandId(nodeId, entered);
    return { entered, commandId, command: await store.getCommand(commandId) };
  }

  /** The profile the node last passed acceptance as (its SKU stays that, whatever GPUs it has now); null: never passed. */
  async function acceptedAs(nodeId: string): Promise<string | null> {
    return (await store.acceptanceRuns(nodeId, 50)).find((r) => r.passed)?.profile ?? null;
  }

  async function profileOf(node: { id: string; inventory: { gpus: ReadonlyArray<{ model: string }> } }): Promise<SkuProfile | null> {
    return nodeSku(node.inventory.gpus, await deps.profiles(), await acceptedAs(node.id));
  }

  /** Sends the node its suite, once per entry into `accepting`; fails a run that has not finished in time. */
  async function sendSuite(nodeId: string): Promise<void> {
    const mine = own(nodeId);
    if (!mine) return;
    const node = await store.getNode(nodeId);
    if (node?.state !== 'accepting') return;
    const run = await currentRun(nodeId);
    if (run?.command) {
      // Acknowledged and then silent (a hung run, a dead power supply, a tenant who claimed it and said nothing): the
      // outbox gives up only what was never acknowledged, so the run's own deadline takes the node to repair.
      const late = deps.now().getTime() - run.command.createdAt.getTime() > deps.suiteTimeoutMs;
      if (late && (run.command.state === 'acked' || run.command.state === 'running')) {
        await failed(nodeId, `the acceptance suite did not finish within ${deps.suiteTimeoutMs / 1000} s (command ${run.command.id}, ${run.command.state})`, mine);
      }
      // Ended a minute ago and the node still here: its report's verdict was never taken (a replica stopped in between;
      // the minute leaves a judgement under way to finish).
      const ended = ['succeeded', 'failed', 'refused', 'expired'].includes(run.command.state) && deps.now().getTime() - run.command.updatedAt.getTime() > 60_000;
      const kept = ended && (await store.acceptanceRuns(nodeId, 5)).some((r) => r.commandId === run.command?.id);
      if (ended && !kept) await failed(nodeId, `the acceptance suite ended (${run.command.state}: ${run.command.message || 'no message'}) without a verdict taken; inspect again`, mine);
      return;
    }
    if (!run) return;
    await deps.outbox.send(nodeId, { kind: 'accept', args: acceptSuite(await profileOf(node)) }, null, run.commandId, { mayAct: () => own(nodeId) !== null });
  }

  async function judged(progress: CommandProgress): Promise<void> {
    if (progress.kind !== 'accept') return;
    const node = await store.getNode(progress.nodeId);
    if (node?.state !== 'accepting') return;
    if ((await currentRun(node.id))?.commandId !== progress.commandId) return;
    const fence = own(node.id)?.fence;
    const options = fence ? { fence } : {};
    if (progress.phase === 'failed' || progress.phase === 'refused') {
      await failed(node.id, `the acceptance suite did not run: ${progress.message}`, options);
      return;
    }
    if (progress.phase !== 'succeeded') return;
    if (!progress.acceptance) {
      await failed(node.id, 'the acceptance suite reported no measurements', options);
      return;
    }
    // Judged against the inventory the manager holds (the node reported it at registration, after its repair).
    // Judged once: the same report again (its acknowledgement lost, the manager killed before the move) moves the node
    // by the verdict kept, not by a new judgement against profiles and conditions as they are now.
    const kept = (await store.acceptanceRuns(node.id, 5)).find((r) => r.commandId === progress.commandId);
    let verdict = kept;
    if (!verdict) {
      const critical = (await store.conditions(node.id)).filter((c) => c.severity === 'critical');
      verdict = { ...judgeAcceptance(await deps.profiles(), node.inventory, progress.acceptance, critical, await acceptedAs(node.id)), nodeId: node.id, commandId: progress.commandId, outputs: progress.acceptance.outputs, at: progress.at };
      await store.recordAcceptance(verdict);
    }
    if (verdict.passed) await lifecycle.apply(node.id, 'acceptance-passed', actor, `acceptance passed (${verdict.profile}): ${verdict.checks.length} checks`, options);
    else await failed(node.id, `acceptance failed (${verdict.profile ?? 'no SKU profile'}): ${failingChecks(verdict.checks)}`, options);
  }

  /**
   * To repair (a tenant's node accepted after its reimage: to failed, replaced). Retired from repair when its suite
   * measured a fault in each of its last --retire-after-acceptance-failures runs since its first repair, with no pass in
   * between: a suite whose tools did not run (a tenant's image without gpu_burn) proves nothing against the board, a
   * pass starts the count again, and a node still in a tenant is never retired here.
   */
  async function failed(nodeId: string, reason: string, options: { fence?: Fence }): Promise<void> {
    const moved = await lifecycle.apply(nodeId, 'acceptance-failed', actor, boundedReason(reason, 'the whole in the node\'s acceptance runs'), options);
    if (!moved.ok || moved.to !== 'repair' || deps.retireAfterFailures === 0) return;
    const firstRepair = (await store.history(nodeId)).find((h) => h.event === 'repaired');
    if (!firstRepair) return;
    let failures = 0;
    for (const run of await store.acceptanceRuns(nodeId, deps.retireAfterFailures * 4 + 8)) {
      if (run.passed || run.at.getTime() <= firstRepair.at.getTime()) break;
      if (measuredFault(run.checks)) failures += 1;
    }
    if (failures < deps.retireAfterFailures) return;
    await lifecycle.apply(nodeId, 'retire', actor, `failed acceptance ${failures} times after repair (--retire-after-acceptance-failures ${deps.retireAfterFailures}): retired, its evidence kept`, options);
  }

  /**
   * A node that left `accepting` has its suites not yet started given up: withdrawn from its session and refused at
   * its claim, so none starts on GPUs a tenant may soon have (the claim checks the node's state too).
   */
  async function withdrawSuites(nodeId: string, reason: string): Promise<void> {
    if (!own(nodeId)) return;
    for (const command of await store.commandsOf(nodeId, 20)) {
      if (command.kind === 'accept' && (command.state === 'pending' || command.state === 'sent')) await deps.outbox.giveUp(command.id, reason);
    }
  }

  // The nodes in `accepting`, as this process saw them move; the whole fleet is read every other sweep (a node moved
  // by another replica, or before this one started: its suite goes out within two sweeps), not at every one.
  const acceptingNodes = new Set<string>();
  const relistEvery = 2;
  let sweeps = 0;

  const unfollow = deps.outbox.follow(judged);
  const unsubscribe = deps.events.on((event) => {
    if (event.type === 'state-changed' && event.to === 'accepting') {
      acceptingNodes.add(event.nodeId);
      void sendSuite(event.nodeId).catch(deps.onError);
    }
    if (event.type === 'state-changed' && event.from === 'accepting') acceptingNodes.delete(event.nodeId);
    if (event.type === 'state-changed' && event.from === 'accepting') void withdrawSuites(event.nodeId, `the node left accepting (${event.to}: ${event.reason})`).catch(deps.onError);
    if (event.type === 'command-expired') {
      void (async () => {
        const command = await store.getCommand(event.commandId);
        const node = await store.getNodeSummary(event.nodeId);
        if (command?.kind !== 'accept' || node?.state !== 'accepting') return;
        const mine = own(node.id);
        if (!mine) return;
        await failed(node.id, `the acceptance suite did not run: ${command.message}`, mine);
      })().catch(deps.onError);
    }
  });

  // One sweep at a time: two at once would both find a node without its suite and send it twice.
  let sweeping: Promise<void> | null = null;
  async function sweepOnce(): Promise<void> {
    if (sweeps % relistEvery === 0) {
      acceptingNodes.clear();
      for (const node of await store.listNodes()) if (node.state === 'accepting') acceptingNodes.add(node.id);
    }
    sweeps += 1;
    for (const nodeId of [...acceptingNodes]) await sendSuite(nodeId).catch(deps.onError);
  }
  function sweep(): Promise<void> {
    sweeping ??= sweepOnce().finally(() => (sweeping = null));
    return sweeping;
  }

  return { sweep, stop: () => { unfollow(); unsubscribe(); } };
}
