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
//   proves nothing: the node goes to repair, saying so.
// - A repeat offender (--retire-after-acceptance-failures, default 2): a node
//   whose acceptance failed that many times since its first repair is retired
//   from repair, its evidence kept (GET /api/v1/nodes/:id/evidence).
import { acceptSuite, failingChecks, judgeAcceptance, skuOf, type SkuProfile } from '@metalfleet/domain';
import type { Fence, FleetStore } from '@metalfleet/store';
import type { FleetEvents } from '../events/fleet-events.ts';
import type { CommandOutbox, CommandProgress } from './command-outbox.ts';
import type { Lifecycle } from './lifecycle.ts';

export interface AcceptanceDeps {
  store: FleetStore;
  events: FleetEvents;
  lifecycle: Lifecycle;
  outbox: Pick<CommandOutbox, 'send' | 'follow'>;
  /** The SKU profiles in force (the operator's, then the defaults), read when a suite is sent and when one is judged. */
  profiles: () => Promise<readonly SkuProfile[]>;
  now: () => Date;
  onError: (error: unknown) => void;
  /** The fence under which this replica acts for the node (its shard's lease; null: another replica's node). None: every node. */
  fenceFor?: (nodeId: string) => Fence | null;
  /** Acceptance failures since the node's first repair after which it is retired; 0: never. */
  retireAfterFailures: number;
}

const actor = 'acceptance';

export function startAcceptance(deps: AcceptanceDeps): { sweep: () => Promise<void>; stop: () => void } {
  const { store, lifecycle } = deps;
  const own = (nodeId: string): { fence?: Fence } | null => {
    if (!deps.fenceFor) return {};
    const fence = deps.fenceFor(nodeId);
    return fence ? { fence } : null;
  };

  /** Sends the node its suite, unless an accept command of its is open (sent, acknowledged or running). */
  async function sendSuite(nodeId: string): Promise<void> {
    const mine = own(nodeId);
    if (!mine) return;
    const node = await store.getNode(nodeId);
    if (node?.state !== 'accepting') return;
    const open = (await store.commandsOf(nodeId, 20)).some((c) => c.kind === 'accept' && ['pending', 'sent', 'acked', 'running'].includes(c.state));
    if (open) return;
    await deps.outbox.send(nodeId, { kind: 'accept', args: acceptSuite(skuOf(node.inventory.gpus, await deps.profiles())) }, null, undefined,
      { mayAct: () => own(nodeId) !== null });
  }

  async function judged(progress: CommandProgress): Promise<void> {
    if (progress.kind !== 'accept') return;
    const node = await store.getNode(progress.nodeId);
    if (node?.state !== 'accepting') return;
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
    const critical = (await store.conditions(node.id)).filter((c) => c.severity === 'critical');
    const verdict = judgeAcceptance(await deps.profiles(), node.inventory, progress.acceptance, critical);
    await store.recordAcceptance({ nodeId: node.id, commandId: progress.commandId, ...verdict, outputs: progress.acceptance.outputs, at: progress.at });
    if (verdict.passed) await lifecycle.apply(node.id, 'acceptance-passed', actor, `acceptance passed (${verdict.profile}): ${verdict.checks.length} checks`, options);
    else await failed(node.id, `acceptance failed (${verdict.profile ?? 'no SKU profile'}): ${failingChecks(verdict.checks)}`, options);
  }

  /** To repair; retired there when it failed acceptance too often since its first repair. */
  async function failed(nodeId: string, reason: string, options: { fence?: Fence }): Promise<void> {
    const moved = await lifecycle.apply(nodeId, 'acceptance-failed', actor, reason, options);
    if (!moved.ok || deps.retireAfterFailures === 0) return;
    const history = await store.history(nodeId);
    const firstRepair = history.findIndex((h) => h.event === 'repaired');
    const failures = firstRepair < 0 ? 0 : history.slice(firstRepair).filter((h) => h.event === 'acceptance-failed').length;
    if (failures < deps.retireAfterFailures) return;
    await lifecycle.apply(nodeId, 'retire', actor, `failed acceptance ${failures} times after repair (--retire-after-acceptance-failures ${deps.retireAfterFailures}): retired, its evidence kept`, options);
  }

  const unfollow = deps.outbox.follow(judged);
  const unsubscribe = deps.events.on((event) => {
    if (event.type === 'state-changed' && event.to === 'accepting') void sendSuite(event.nodeId).catch(deps.onError);
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

  async function sweep(): Promise<void> {
    for (const node of await store.listNodes()) if (node.state === 'accepting') await sendSuite(node.id);
  }

  return { sweep, stop: () => { unfollow(); unsubscribe(); } };
}
