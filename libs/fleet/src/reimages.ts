// Reimage operations: one node or a thousand, each node walked through the
// phases of libs/domain's reimage step function, started by the scheduler
// within the concurrency limits and maintenance windows. Every step is written
// to the store before its effect runs, so a restarted manager resumes each
// node from its last phase: nothing lost, nothing done twice (commands have
// ids derived from the operation and node, and the agent runs each id once).
import {
  DomainError, imageLabel, inMaintenanceWindow, installsRoot, isInFlight, pickReimageStarts, queuedProgress, stepReimage,
  type ConcurrencyLimits, type ImageRef, type MaintenanceWindow, type NodeSummary, type ReimagePolicy, type ReimageSignal,
} from '@metalfleet/domain';
import type { FleetStore, OperationKind, OperationNodeRecord, OperationRecord } from '@metalfleet/store';
import type { CommandOutbox } from './command-outbox.ts';
import type { FleetEvents } from './fleet-events.ts';
import type { Lifecycle } from './lifecycle.ts';

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
  onError: (error: unknown, context: Record<string, unknown>) => void;
}

export interface ReimageRequest {
  kind: OperationKind;
  image: ImageRef;
  nodeIds: readonly string[];
  priority: number;
  urgent: boolean;
  actor: string;
  reason: string;
}

type OpenNode = OperationNodeRecord & { operation: OperationRecord };

/** Reimage rewrites what a tenant runs: only nodes allocated to (or active for) a tenant are reimaged. */
const reimageable = new Set(['allocated', 'active']);

export function createReimages(deps: ReimageDeps) {
  const open = new Map<string, OpenNode>();
  const chains = new Map<string, Promise<void>>();
  const key = (operationId: string, nodeId: string) => `${operationId}/${nodeId}`;
  let pass: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  /** Runs `work` after everything queued for this node: one step at a time per node. */
  function serially(k: string, work: () => Promise<void>): Promise<void> {
    const next = (chains.get(k) ?? Promise.resolve()).then(work).catch((error: unknown) => deps.onError(error, { node: k }));
    chains.set(k, next);
    void next.finally(() => {
      if (chains.get(k) === next) chains.delete(k);
    });
    return next;
  }

  async function policyFor(node: OpenNode, needBmc: boolean): Promise<ReimagePolicy> {
    const image = await deps.store.getImage(node.operation.image);
    return {
      timeoutsMs: deps.timeoutsMs, maxPowerCycles: deps.maxPowerCycles, expectedSha256: image?.sha256 ?? '',
      hasBmc: needBmc ? (await deps.bmcFor(node.nodeId)) !== null : false,
    };
  }

  function signal(operationId: string, nodeId: string, s: ReimageSignal): Promise<void> {
    return serially(key(operationId, nodeId), async () => {
      const node = open.get(key(operationId, nodeId));
      if (!node || stopped) return;
      // Several passes may see one deadline pass before the first step is written: act on it once.
      if (s.kind === 'timeout' && (!node.progress.deadlineAt || node.progress.deadlineAt > deps.now()) && node.progress.phase !== 'rebooting') return;
      const result = stepReimage(node.progress, s, deps.now(), await policyFor(node, s.kind === 'timeout' || s.kind === 'rebooting'));
      if ('ignored' in result) return;
      await save(node, result.progress, node.commandId);
      for (const effect of result.effects) void serially(key(operationId, nodeId), () => runEffect(node, effect));
      if (!isInFlight(result.progress.phase) && result.progress.phase !== 'queued') kick();
    });
  }

  async function save(node: OpenNode, progress: OpenNode['progress'], commandId: string | null): Promise<void> {
    const at = deps.now();
    await deps.store.saveOperationNode(node.operationId, node.nodeId, progress, commandId, at);
    node.progress = progress;
    node.commandId = commandId;
    if (progress.phase === 'done' || progress.phase === 'failed') open.delete(key(node.operationId, node.nodeId));
    deps.events.emit({ type: 'operation-progress', operationId: node.operationId, nodeId: node.nodeId, phase: progress.phase, message: progress.message, at });
  }

  /** An observation about the reimage whose command this is (none: nothing to record it on). */
  function observed(nodeId: string, commandId: string, s: ReimageSignal): void {
    for (const node of open.values()) {
      if (node.nodeId === nodeId && node.commandId === commandId) return void signal(node.operationId, nodeId, s);
    }
  }

  const fail = (node: OpenNode, message: string) => void signal(node.operationId, node.nodeId, { kind: 'failed', message });
  const actor = (node: OpenNode) => `reimage ${node.operationId}`;

  async function runEffect(node: OpenNode, effect: string): Promise<void> {
    const summary = await deps.store.getNodeSummary(node.nodeId);
    if (!summary) return fail(node, 'the node no longer exists');
    const label = imageLabel(node.operation.image);
    try {
      switch (effect) {
        case 'drain':
          await deps.drain(summary, `reimage to ${label}`);
          return void signal(node.operationId, node.nodeId, { kind: 'drained' });
        case 'isolate': {
          const moved = await deps.lifecycle.apply(node.nodeId, 'provision', actor(node), `${node.operation.reason}: reimage to ${label}`);
          if (!moved.ok && summary.state !== 'provisioning') return fail(node, moved.reason);
          await deps.settleFabric();
          return void signal(node.operationId, node.nodeId, { kind: 'isolated' });
        }
        case 'send-command': {
          const image = await deps.store.getImage(node.operation.image);
          if (!image) return fail(node, `image ${label} is no longer in the catalog`);
          const bmc = await deps.bmcFor(node.nodeId);
          // With a BMC the manager power-cycles the node into PXE once the agent acks (the agent only flushes its disks);
          // the next boot is set now too, so a node whose agent dies still boots the image after the timeout's power cycle.
          await bmc?.setNextBootPxe().catch((error: unknown) => deps.onError(error, { node: node.nodeId, step: 'bmc bootdev pxe' }));
          const command = await deps.outbox.send(node.nodeId, { kind: 'reimage', args: {
            imageName: image.name, imageVersion: image.version, sha256: image.sha256, bootScriptUrl: deps.bootScriptUrl(summary), powerCycledByBmc: bmc !== null,
          } }, node.operationId, `reimage-${node.operationId}-${node.nodeId}`);
          return void serially(key(node.operationId, node.nodeId), () => save(node, node.progress, command.id));
        }
        case 'power-cycle-pxe': {
          const bmc = await deps.bmcFor(node.nodeId);
          if (!bmc) return fail(node, 'no BMC to power-cycle the node with');
          // Taken before the call: the node cannot fetch its install script because of this cycle any earlier.
          const at = deps.now();
          await bmc.setNextBootPxe();
          await bmc.powerCycle();
          // Recorded once the BMC did it: a manager that dies in between has no evidence, and the reported install is refused.
          return void signal(node.operationId, node.nodeId, { kind: 'power-cycled', at });
        }
        case 'check-health': {
          const critical = (await deps.store.conditions(node.nodeId)).filter((c) => c.severity === 'critical');
          if (critical.length > 0) return fail(node, `critical in the new image: ${critical.map((c) => `${c.component} ${c.code}`).join(', ')}`);
          return void signal(node.operationId, node.nodeId, { kind: 'healthy' });
        }
        case 'restore': {
          const moved = await deps.lifecycle.apply(node.nodeId, 'provisioned', actor(node), `reimaged to ${label}`);
          if (!moved.ok && summary.state !== 'active') return fail(node, moved.reason);
          await deps.settleFabric();
          return void signal(node.operationId, node.nodeId, { kind: 'restored' });
        }
        case 'fail-node': {
          const event = summary.state === 'provisioning' ? 'provision-failed' : 'fail';
          await deps.lifecycle.apply(node.nodeId, event, actor(node), `reimage to ${label} failed: ${node.progress.message}`);
          return;
        }
      }
    } catch (error) {
      fail(node, error instanceof Error ? error.message : String(error));
    }
  }

  async function finishEnded(operationIds: Iterable<string>): Promise<void> {
    for (const id of operationIds) {
      const operation = await deps.store.getOperation(id);
      if (operation?.state !== 'running') continue;
      const nodes = await deps.store.operationNodes(id);
      if (nodes.some((n) => n.progress.phase !== 'done' && n.progress.phase !== 'failed')) continue;
      const failed = nodes.filter((n) => n.progress.phase === 'failed').length;
      const state = failed === 0 ? 'succeeded' : 'failed';
      await deps.store.finishOperation(id, state, deps.now());
      deps.events.emit({ type: 'operation-finished', operationId: id, state, done: nodes.length - failed, failed, at: deps.now() });
    }
  }

  async function runPass(): Promise<void> {
    const rows = await deps.store.openOperationNodes();
    const seen = new Set<string>();
    for (const row of rows) {
      const k = key(row.operationId, row.nodeId);
      seen.add(k);
      // The in-memory copy is the newer one while a step is being written.
      if (!open.has(k)) open.set(k, row);
    }
    for (const k of open.keys()) if (!seen.has(k) && !chains.has(k)) open.delete(k);
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
    const operations = new Set((await deps.store.listOperations(1000)).filter((o) => o.state === 'running').map((o) => o.id));
    for (const node of nodes) operations.delete(node.operationId);
    await finishEnded(operations);
  }

  function kick(): void {
    if (stopped) return;
    if (pass) {
      again = true;
      return;
    }
    pass = runPass()
      .catch((error: unknown) => deps.onError(error, { step: 'reimage pass' }))
      .finally(() => {
        pass = null;
        if (again) {
          again = false;
          kick();
        }
      });
  }

  /** After a restart: carry on with the effect of the phase each in-flight node was in. */
  async function resume(): Promise<number> {
    const rows = await deps.store.openOperationNodes();
    for (const row of rows) {
      const k = key(row.operationId, row.nodeId);
      open.set(k, row);
      const entry: Record<string, string> = { draining: 'drain', isolating: 'isolate', 'health-check': 'check-health', restoring: 'restore' };
      const effect = row.progress.phase === 'rebooting' ? 'send-command' : entry[row.progress.phase];
      if (effect) void serially(k, () => runEffect(row, effect));
    }
    return rows.filter((r) => isInFlight(r.progress.phase)).length;
  }

  return {
    async create(request: ReimageRequest): Promise<OperationRecord> {
      if (request.nodeIds.length === 0) throw new DomainError('invalid-argument', 'no nodes to reimage');
      const image = await deps.store.getImage(request.image);
      if (!image) throw new DomainError('not-found', `no image ${imageLabel(request.image)} in the catalog`);
      if (!installsRoot(image)) throw new DomainError('invalid-argument', `image ${imageLabel(request.image)} has no root image (rootUrl, sha256) to install; it can only boot machines for discovery`);
      const busy = new Set((await deps.store.openOperationNodes()).map((n) => n.nodeId));
      const nodes: NodeSummary[] = [];
      for (const id of new Set(request.nodeIds)) {
        const node = await deps.store.getNodeSummary(id);
        if (!node) throw new DomainError('not-found', `no node ${id}`);
        if (!reimageable.has(node.state)) throw new DomainError('conflict', `node ${id} is ${node.state}; only nodes allocated to a tenant or active are reimaged`);
        if (busy.has(id)) throw new DomainError('conflict', `node ${id} is already being reimaged`);
        nodes.push(node);
      }
      const at = deps.now();
      const operation: OperationRecord = {
        id: deps.newId(), kind: request.kind, state: 'running', image: request.image, priority: request.priority, urgent: request.urgent,
        actor: request.actor, reason: request.reason, createdAt: at, updatedAt: at,
      };
      await deps.store.createOperation(operation, nodes.map((n, position) => ({
        operationId: operation.id, nodeId: n.id, position, rack: n.rack, tenant: n.tenant, progress: queuedProgress(), commandId: null, updatedAt: at,
      })));
      deps.events.emit({ type: 'operation-created', operationId: operation.id, kind: operation.kind, nodes: nodes.length, reason: operation.reason, at });
      kick();
      return operation;
    },

    async start(intervalMs: number): Promise<{ resumed: number; stop: () => Promise<void> }> {
      const resumed = await resume();
      const unsubscribe = deps.events.on((event) => {
        if (event.type === 'command-progress' && event.operationId) {
          if (event.phase === 'running') void signal(event.operationId, event.nodeId, { kind: 'rebooting', at: event.at });
          if (event.phase === 'succeeded') void signal(event.operationId, event.nodeId, { kind: 'installed', sha256: event.verifiedSha256 });
          if (event.phase === 'failed') void signal(event.operationId, event.nodeId, { kind: 'failed', message: `the agent reported: ${event.message}` });
        }
        if (event.type === 'command-expired' && event.operationId) void signal(event.operationId, event.nodeId, { kind: 'timeout' });
        // The manager's own view of the node booting its install image: evidence for the reported install.
        if (event.type === 'boot-script-served' && event.purpose === 'install' && event.nodeId && event.commandId) {
          observed(event.nodeId, event.commandId, { kind: 'install-boot-served', at: event.at, peer: event.peer });
        }
        if (event.type === 'install-registered') observed(event.nodeId, event.commandId, { kind: 'install-registered', at: event.at });
        if (event.type === 'install-conflict') {
          observed(event.nodeId, event.commandId, { kind: 'failed', message: `a second machine registered with an install token of this reimage (identity conflict ${event.conflictId})` });
        }
      });
      const timer = setInterval(kick, intervalMs);
      kick();
      return {
        resumed,
        async stop() {
          stopped = true;
          unsubscribe();
          clearInterval(timer);
          await pass;
          await Promise.all(chains.values());
        },
      };
    },
    kick,
  };
}

export type Reimages = ReturnType<typeof createReimages>;
