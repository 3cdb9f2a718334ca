// Reimage operations: one node or a thousand, each node walked through the
// phases of libs/domain's reimage step function, started by the scheduler
// within the concurrency limits and maintenance windows. Every step is written
// to the store before its effect runs, so a restarted manager resumes each
// node from its last phase: nothing lost, nothing done twice (commands have
// ids derived from the operation and node, and the agent runs each id once).
import {
  DomainError, deadlineAfterPause, refusal, imageLabel, inMaintenanceWindow, installsRoot, isInFlight, pickReimageStarts, queuedProgress, reimageEffectOnEntry, stepReimage,
  type ConcurrencyLimits, type ImageRef, type MaintenanceWindow, type NodeSummary, type ReimagePolicy, type ReimageSignal,
} from '@metalfleet/domain';
import type { FleetStore, OperationKind, OperationRecord, Fence } from '@metalfleet/store';
import { coalesced } from './coalesced.ts';
import type { CommandOutbox } from './command-outbox.ts';
import type { FleetEvent, FleetEvents } from '../events/fleet-events.ts';
import { encodeEvent } from '../events/event-journal.ts';
import type { Lifecycle } from './lifecycle.ts';
import { createReimageEffects, type OpenNode } from './reimage-effects.ts';
import { acceptanceOutcome, reportedSignal, storedReportSignals } from './reimage-signals.ts';

export interface BmcControl {
  setNextBootPxe(): Promise<void>;
  powerCycle(): Promise<void>;
}

export interface ReimageDeps {
  store: FleetStore;
  events: FleetEvents;
  lifecycle: Lifecycle;
  outbox: CommandOutbox;
  now: () => Date;
  newId: () => string;
  /** Applies the port plan now and waits for it (nothing to do without switches). */
  settleFabric: () => Promise<void>;
  bmcFor: (nodeId: string) => Promise<BmcControl | null>;
  /** Asks the workload scheduler to drain the node (webhook); resolves when drained. */
  drain: (node: NodeSummary, reason: string) => Promise<void>;
  bootScriptUrl: (node: NodeSummary) => string;
  limits: ConcurrencyLimits;
  windows: readonly MaintenanceWindow[];
  timeoutsMs: ReimagePolicy['timeoutsMs'];
  maxPowerCycles: number;
  /** Acceptance-test every reimaged node in its new image before it serves again (--acceptance-after-reimage). */
  acceptAfterReimage?: boolean;
  onError: (error: unknown, context: Record<string, unknown>) => void;
  /**
   * Whether this replica does the per-node work now (its lease; default: always). Another replica may take a
   * node's report (a shared subscription): the report is in the store, and the replica doing the work takes it
   * from there at its next pass. A replica that gains the work resumes it from the store, as after a restart.
   */
  runsHere?: () => boolean;
  /** The lease the steps are written under (default: none): a replica paused past it writes no step after it wakes. */
  fence?: () => Fence | null;
  /**
   * Where the evidence of a reimage comes from (boot scripts served, install registrations, give-ups): with
   * replicas, the fleet's event journal, which holds what every replica saw; default `events`, this process's.
   */
  observations?: Pick<FleetEvents, 'on'> & {
    /** Resolves once every event stored before the call has been handed to the listeners. */
    caughtUp?: () => Promise<void>;
  };
}

/** How long evidence is kept while another replica does the work, for this one to take it over with. */
const keptEvidenceMs = 30 * 60_000;

export interface ReimageRequest {
  kind: OperationKind;
  image: ImageRef;
  nodeIds: readonly string[];
  priority: number;
  urgent: boolean;
  actor: string;
  reason: string;
}


export function createReimages(deps: ReimageDeps) {
  const open = new Map<string, OpenNode>();
  const chains = new Map<string, Promise<void>>();
  const key = (operationId: string, nodeId: string) => `${operationId}/${nodeId}`;
  const runEffect = createReimageEffects(deps);
  // Every write of a node's progress, numbered: a pass ignores rows it read before a newer write of the same node.
  let writes = 0;
  const lastWrite = new Map<string, number>();
  let stopped = false;
  const runsHere = deps.runsHere ?? (() => true);
  /** The fence for a step's write; a replica that no longer holds the work writes nothing. */
  const fenceNow = (): Fence | undefined => {
    if (!deps.fence) return undefined;
    const fence = deps.fence();
    if (!fence) throw new Error('this replica no longer does the per-node work (its lease lapsed): the step is left to the replica that does');
    return fence;
  };
  /** Whether this replica did the work at its last pass; the first pass after gaining it resumes from the store. */
  let owning = false;
  let pausedBeforeStart = 0;

  /**
   * Runs `work` after everything queued for this node: one step at a time per node. Resolves when it has run (its
   * error goes to onError); with `strict`, rejects with its error instead, for a caller that must know it was stored.
   */
  function serially(k: string, work: () => Promise<void>, strict = false): Promise<void> {
    const run = (chains.get(k) ?? Promise.resolve()).then(work);
    const next = run.catch((error: unknown) => deps.onError(error, { node: k }));
    chains.set(k, next);
    void next.finally(() => {
      if (chains.get(k) === next) chains.delete(k);
    });
    return strict ? run : next;
  }

  async function policyFor(node: OpenNode, needBmc: boolean): Promise<ReimagePolicy> {
    const image = await deps.store.getImage(node.operation.image);
    return {
      timeoutsMs: deps.timeoutsMs, maxPowerCycles: deps.maxPowerCycles, expectedSha256: image?.sha256 ?? '',
      hasBmc: needBmc ? (await deps.bmcFor(node.nodeId)) !== null : false, acceptance: deps.acceptAfterReimage ?? false,
    };
  }

  function signal(operationId: string, nodeId: string, s: ReimageSignal, strict = false): Promise<void> {
    const k = key(operationId, nodeId);
    return serially(k, async () => {
      const node = open.get(k);
      if (stopped && strict) throw new Error('reimaging is stopping; the report is taken again after the restart');
      if (!node || stopped) return;
      // Several passes may see one deadline pass before the first step is written: act on it once.
      if (s.kind === 'timeout' && (!node.progress.deadlineAt || node.progress.deadlineAt > deps.now()) && node.progress.phase !== 'rebooting') return;
      // The install is judged on its evidence: what was seen (on any replica) before the report must be in first.
      if (s.kind === 'installed') await deps.observations?.caughtUp?.();
      const result = stepReimage(node.progress, s, deps.now(), await policyFor(node, s.kind === 'timeout' || s.kind === 'rebooting' || s.kind === 'installed'));
      if ('ignored' in result) return;
      await save(node, result.progress, node.commandId);
      for (const effect of result.effects) void serially(k, () => runEffect(node, effect, portFor(node)));
      if (!isInFlight(result.progress.phase) && result.progress.phase !== 'queued') kick();
    }, strict);
  }

  const portFor = (node: OpenNode) => ({
    signal: (s: ReimageSignal) => void signal(node.operationId, node.nodeId, s),
    commandGoingOut: (commandId: string) => save(node, node.progress, commandId),
  });

  /**
   * A reimage that gives up before its command did (a phase's deadline shorter than the deliveries' ack timeouts)
   * withdraws it, so that the node does not reboot into it when it comes back (issue 20, G5). Before the failure is
   * written: a stop or a store error between the two then leaves the step to be taken again, not a command to run.
   * A command the node claimed meanwhile runs anyway: the failure says so.
   */
  async function withdrawnOnFailure(progress: OpenNode['progress'], commandId: string): Promise<OpenNode['progress']> {
    if (await deps.outbox.giveUp(commandId, `the reimage gave up: ${progress.message}`)) return progress;
    const command = await deps.store.getCommand(commandId);
    if (command?.state !== 'acked' && command?.state !== 'running') return progress;
    const note = `; the node claimed its command as the reimage gave up (${command.state}): it may still reboot`;
    return { ...progress, message: `${progress.message}${note}`, failure: progress.failure && { ...progress.failure, details: `${progress.failure.details}${note}` } };
  }

  async function save(node: OpenNode, next: OpenNode['progress'], commandId: string | null): Promise<void> {
    const fence = fenceNow();
    const progress = next.phase === 'failed' && commandId ? await withdrawnOnFailure(next, commandId) : next;
    const at = deps.now();
    const k = key(node.operationId, node.nodeId);
    lastWrite.set(k, (writes += 1));
    await deps.store.saveOperationNode(node.operationId, node.nodeId, progress, commandId, at, fence);
    node.progress = progress;
    node.commandId = commandId;
    if (progress.phase === 'done' || progress.phase === 'failed') open.delete(k);
    deps.events.emit({ type: 'operation-progress', operationId: node.operationId, nodeId: node.nodeId, phase: progress.phase, message: progress.message, at });
  }

  /** An observation about the reimage whose command this is (none: nothing to record it on). */
  // Evidence seen while another replica does the work: given to the steps once this one takes the work over.
  let kept: Array<{ nodeId: string; commandId: string; signal: ReimageSignal; at: number }> = [];

  function observed(nodeId: string, commandId: string, s: ReimageSignal): void {
    if (!owning) {
      const now = deps.now().getTime();
      kept = kept.filter((k) => now - k.at < keptEvidenceMs).slice(-10_000);
      kept.push({ nodeId, commandId, signal: s, at: now });
      return;
    }
    for (const node of open.values()) {
      if (node.nodeId === nodeId && node.commandId === commandId) return void signal(node.operationId, nodeId, s);
    }
  }

  /** Running operations whose nodes have all ended, however many operations came after them. */
  async function finishEnded(): Promise<void> {
    for (const operation of await deps.store.operationsToFinish()) {
      const nodes = await deps.store.operationNodes(operation.id);
      const failed = nodes.filter((n) => n.progress.phase === 'failed').length;
      const state = failed === 0 ? 'succeeded' : 'failed';
      await deps.store.finishOperation(operation.id, state, deps.now());
      deps.events.emit({ type: 'operation-finished', operationId: operation.id, state, done: nodes.length - failed, failed, at: deps.now() });
    }
  }

  async function runPass(): Promise<void> {
    const readAt = writes;
    const rows = await deps.store.openOperationNodes();
    const seen = new Set<string>();
    for (const row of rows) {
      const k = key(row.operationId, row.nodeId);
      seen.add(k);
      // The in-memory copy is the newer one while a step is being written; a row read before the node's last write
      // (a slow read) is stale: acting on it would walk an ended node through its old phase again.
      if (!open.has(k) && (lastWrite.get(k) ?? 0) <= readAt) open.set(k, row);
    }
    for (const k of open.keys()) if (!seen.has(k) && !chains.has(k) && (lastWrite.get(k) ?? 0) <= readAt) open.delete(k);
    for (const [k, n] of lastWrite) if (n <= readAt) lastWrite.delete(k);
    const now = deps.now();
    const nodes = [...open.values()];
    for (const node of nodes) {
      if (node.progress.deadlineAt && node.progress.deadlineAt <= now) void signal(node.operationId, node.nodeId, { kind: 'timeout' });
    }
    const running = nodes.filter((n) => isInFlight(n.progress.phase)).map((n) => ({ nodeId: n.nodeId, rack: n.rack, tenant: n.tenant }));
    const queued = nodes.filter((n) => n.progress.phase === 'queued').map((n, order) => ({
      operationId: n.operationId, nodeId: n.nodeId, rack: n.rack, tenant: n.tenant, priority: n.operation.priority, urgent: n.operation.urgent, order,
    }));
    // Awaited: the next pass must count these as in flight.
    await Promise.all(pickReimageStarts(queued, running, deps.limits, inMaintenanceWindow(deps.windows, now))
      .map((start) => signal(start.operationId, start.nodeId, { kind: 'start' })));
    await finishEnded();
  }

  /**
   * Reports on in-flight nodes' commands that reached the store through another replica (or whose step a stop cut
   * off): taken now. A step taken already ignores its signal. The manager's own give-ups (expired) come as events.
   */
  async function takeStoredReports(): Promise<void> {
    for (const node of [...open.values()]) {
      if (node.progress.phase === 'accepting') {
        const outcome = await acceptanceOutcome(deps.store, node.nodeId);
        if (outcome) void signal(node.operationId, node.nodeId, outcome);
        continue;
      }
      if (!isInFlight(node.progress.phase) || !node.commandId) continue;
      const command = await deps.store.getCommand(node.commandId);
      if (!command || command.state === 'expired') continue;
      for (const followed of storedReportSignals(node, command)) void signal(node.operationId, node.nodeId, followed);
    }
  }

  // Never two passes at once: a kick during a pass asks for one more after it.
  const passes = coalesced(async () => {
    if (stopped) return;
    if (!runsHere()) {
      // Given up (a lease lost): nothing held here any more; whoever does the work now resumes it from the store.
      if (owning) open.clear();
      owning = false;
      return;
    }
    try {
      if (!owning) {
        owning = true;
        await resume(pausedBeforeStart, () => {
          const evidence = kept;
          kept = [];
          for (const k of evidence) observed(k.nodeId, k.commandId, k.signal);
        });
        pausedBeforeStart = 0;
      }
      await runPass();
      await takeStoredReports();
    } catch (error) {
      deps.onError(error, { step: 'reimage pass' });
    }
  });
  const kick = (): void => void passes.run();

  /** Resolves once no pass runs and no node has a step or effect queued (starts nothing). */
  async function settled(): Promise<void> {
    await passes.settled();
    while (chains.size > 0) await Promise.all(chains.values());
  }

  /**
   * After a restart: carry on with the effect of the phase each in-flight node was in (the step function's own table).
   * `pausedMs`, how long the manager was down, is added to each phase's deadline first (deadlineAfterPause).
   */
  async function resume(pausedMs: number, beforeReports: () => void = () => undefined): Promise<number> {
    const rows = await deps.store.openOperationNodes();
    for (const row of rows) {
      const k = key(row.operationId, row.nodeId);
      const progress = deadlineAfterPause(row.progress, pausedMs);
      if (progress !== row.progress) {
        await deps.store.saveOperationNode(row.operationId, row.nodeId, progress, row.commandId, deps.now(), fenceNow());
        row.progress = progress;
      }
      open.set(k, row);
      const effect = reimageEffectOnEntry[row.progress.phase];
      if (effect) void serially(k, () => runEffect(row, effect, portFor(row)));
    }
    // Evidence first (what was seen while another replica did the work), then the reports it judges.
    beforeReports();
    // A report stored on the command whose step the stop cut off: its step is taken now (a step taken already ignores it).
    for (const row of rows) {
      const reported = row.commandId ? await deps.store.getCommand(row.commandId) : null;
      for (const followed of reported ? storedReportSignals(row, reported) : []) void signal(row.operationId, row.nodeId, followed);
    }
    return rows.filter((r) => isInFlight(r.progress.phase)).length;
  }

  /** Why `ref` cannot be installed on a node, as the error a reimage with it throws; null when it can. */
  async function imageRefusal(ref: ReimageRequest['image']): Promise<DomainError | null> {
    const image = await deps.store.getImage(ref);
    if (!image) return new DomainError('not-found', `no image ${imageLabel(ref)} in the catalog`);
    if (!installsRoot(image)) return new DomainError('invalid-argument', `image ${imageLabel(ref)} has no root image (rootUrl, sha256) to install; it can only boot machines for discovery`);
    return null;
  }

  return {
    imageRefusal,
    async create(request: ReimageRequest): Promise<OperationRecord> {
      if (request.nodeIds.length === 0) throw new DomainError('invalid-argument', 'no nodes to reimage');
      const imageRefused = await imageRefusal(request.image);
      if (imageRefused) throw imageRefused;
      const nodes: NodeSummary[] = [];
      for (const id of new Set(request.nodeIds)) {
        const node = await deps.store.getNodeSummary(id);
        if (!node) throw new DomainError('not-found', `no node ${id}`);
        // Reimage rewrites what a tenant runs: only nodes allocated to (or active for) a tenant are reimaged.
        const refused = refusal('reimage', node);
        if (refused) throw new DomainError('conflict', refused);
        nodes.push(node);
      }
      const at = deps.now();
      const operation: OperationRecord = {
        id: deps.newId(), kind: request.kind, state: 'running', image: request.image, priority: request.priority, urgent: request.urgent,
        actor: request.actor, reason: request.reason, createdAt: at, updatedAt: at,
      };
      // A node another operation holds is refused by the store (conflict), in the same transaction: no check-then-insert race.
      const created: FleetEvent = { type: 'operation-created', operationId: operation.id, kind: operation.kind, nodes: nodes.length, reason: operation.reason, at };
      await deps.store.createOperation(operation, nodes.map((n, position) => ({
        operationId: operation.id, nodeId: n.id, position, rack: n.rack, tenant: n.tenant, progress: queuedProgress(), commandId: null, updatedAt: at,
      })), [encodeEvent(created)]);
      deps.events.emit(created, { journaled: true });
      kick();
      return operation;
    },

    /** `pausedMs`: how long the manager was down before this start (0 when unknown); see resume(). */
    async start(intervalMs: number, pausedMs = 0): Promise<{ resumed: number; stop: () => Promise<void> }> {
      // Resumed now when this replica does the work; otherwise by the first pass after it gains it.
      let resumed = 0;
      if (runsHere()) {
        resumed = await resume(pausedMs);
        owning = true;
      } else {
        pausedBeforeStart = pausedMs;
      }
      // The node's report is acknowledged once the step it caused is stored (or sent again if that failed).
      const unfollow = deps.outbox.follow(async (report) => {
        // The reboot was acknowledged when the agent made its report: one it kept while the manager was down arrives after the install boot it led to.
        const followed = reportedSignal({ state: report.phase, updatedAt: report.madeAt, verifiedSha256: report.verifiedSha256, message: report.message });
        if (report.operationId && followed) await signal(report.operationId, report.nodeId, followed, true);
      });
      const unsubscribe = (deps.observations ?? deps.events).on((event) => {
        if (event.type === 'command-expired' && event.operationId) void signal(event.operationId, event.nodeId, { kind: 'timeout' });
        // The manager's own view of the node booting its install image: evidence for the reported install.
        if (event.type === 'boot-script-served' && event.purpose === 'install' && event.nodeId && event.commandId) {
          observed(event.nodeId, event.commandId, { kind: 'install-boot-served', at: event.at, peer: event.peer });
        }
        if (event.type === 'install-registered') observed(event.nodeId, event.commandId, { kind: 'install-registered', at: event.at });
        if (event.type === 'install-refused') {
          observed(event.nodeId, event.commandId, { kind: 'install-refused', refused: { at: event.at, step: event.step, peer: event.peer, reason: event.reason } });
        }
        if (event.type === 'install-conflict') {
          observed(event.nodeId, event.commandId, {
            kind: 'failed', code: 'identity-conflict', details: `a second machine registered with an install token of this reimage (identity conflict ${event.conflictId})`,
          });
        }
      });
      const timer = setInterval(kick, intervalMs);
      kick();
      return {
        resumed,
        async stop() {
          stopped = true;
          unfollow();
          unsubscribe();
          clearInterval(timer);
          await settled();
        },
      };
    },
    kick,
    settled,
  };
}

export type Reimages = ReturnType<typeof createReimages>;
