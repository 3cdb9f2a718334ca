// Composing reimaging and replacement: the command outbox on the embedded
// broker, BMC drivers from each node's BMC settings, the drain hook, the
// reimage scheduler's limits and windows, templates, remediation and BMC
// enrollments.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { NodeSummary } from '@metalfleet/domain';
import {
  createClusterTemplates, createCommandOutbox, createEnrollments, createLifecycleEffects, createOwedReplacements, createReimages, resumeInterruptedEffects, type ReimageDeps, startRemediation, webhookDrain, type CommandOutbox, type CommandWithdrawals, type FabricReconciler, type FleetEvents, type Lifecycle, type Tenants,
} from '@metalfleet/fleet';
import { IpmiDriver, RedfishDriver, type BmcDriver } from '@metalfleet/power';
import type { BmcConfig, Fence, FleetStore } from '@metalfleet/store';
import type { NodeBroker } from '@metalfleet/manager-transport';
import type { ManagerConfig } from './config.ts';

export function bmcDriver(bmc: BmcConfig): BmcDriver {
  return bmc.driver === 'ipmi'
    ? new IpmiDriver({ host: bmc.address, port: bmc.port, username: bmc.username, password: bmc.password, cipherSuite: bmc.cipherSuite })
    : new RedfishDriver({ baseUrl: `${bmc.https ? 'https' : 'http'}://${bmc.address}:${bmc.port}`, username: bmc.username, password: bmc.password, insecureTls: bmc.insecureTls });
}

export interface ReimagingDeps {
  store: FleetStore;
  events: FleetEvents;
  lifecycle: Lifecycle;
  broker: NodeBroker;
  /** Commands withdrawn from nodes' sessions (the broker drops their queued deliveries). */
  withdrawals: CommandWithdrawals;
  tenants: Tenants;
  reconciler: FabricReconciler;
  /** Switches the reconciler programs; none: no port to settle. */
  switches: number;
  now: () => Date;
  logger: Logger;
  /** The manager's HTTP URL as nodes reach it. */
  publicUrl: () => string;
  /** How long the manager was down before this start (0 when unknown): added to the deadlines of reimages in flight. */
  pausedMs: number;
  /** Whether this replica does the per-node work now (the node-loops lease), and the fence its steps are written under. */
  runsHere: () => boolean;
  fence: NonNullable<ReimageDeps['fence']>;
  /** The fence under which this replica sends a node's commands again and gives them up (its shard's), or null. */
  nodeFence: (nodeId: string) => Fence | null;
  /** The evidence of reimages, as every replica saw it (the event journal). */
  observations: NonNullable<ReimageDeps['observations']>;
  /** Revokes a node's client certificates (a retirement's effect); null: none are issued. */
  revokeCertificates: ((nodeId: string) => Promise<number>) | null;
  /**
   * Called with the outbox before it takes its first report: whoever follows reports (acceptance testing) starts here,
   * or a report waiting in an external broker's queue would be acknowledged before anyone judged it.
   */
  beforeListening?: (outbox: CommandOutbox) => void;
}

export async function startReimaging(config: ManagerConfig, deps: ReimagingDeps) {
  const onError = (error: unknown, context: Record<string, unknown>) => deps.logger.error({ err: error, ...context }, 'reimaging step failed');
  const outbox = createCommandOutbox({
    store: deps.store, broker: deps.broker, events: deps.events, now: deps.now, newId: randomUUID, withdrawals: deps.withdrawals, onError,
    ackTimeoutMs: config.commandAckTimeoutS * 1000, maxAttempts: config.commandMaxAttempts, maxPayloadBytes: config.maxPayloadBytes,
    fenceFor: deps.nodeFence,
  });
  deps.beforeListening?.(outbox);
  await outbox.listen();
  const drain = webhookDrain(config.drainHookUrl, config.reimageStepTimeoutS * 1000);
  const step = config.reimageStepTimeoutS * 1000;
  const boot = config.reimageBootTimeoutS * 1000;
  // A request during a pass gets one more pass after it: resolves once the change is on the switches.
  const settleFabric = deps.switches > 0 ? () => deps.reconciler.reconcile() : async () => undefined;
  const reimages = createReimages({
    store: deps.store, events: deps.events, lifecycle: deps.lifecycle, outbox, now: deps.now, newId: randomUUID, settleFabric,
    bmcFor: async (nodeId) => {
      const bmc = await deps.store.getBmc(nodeId);
      return bmc ? bmcDriver(bmc) : null;
    },
    drain,
    bootScriptUrl: (node: NodeSummary) => `${deps.publicUrl()}/boot/ipxe?mac=${encodeURIComponent(node.identity.macs[0] ?? '')}`,
    limits: { global: config.reimageConcurrency, perRack: config.reimagePerRack, perTenant: config.reimagePerTenant },
    windows: config.maintenanceWindows,
    // The acceptance controller gives up a suite at its own deadline (the node to failed): the reimage waits past it.
    timeoutsMs: { draining: step, isolating: step, rebooting: boot, installing: boot, 'health-check': step, accepting: config.acceptanceTimeoutS * 1000 + step, restoring: step },
    maxPowerCycles: config.maxPowerCycles,
    acceptAfterReimage: config.acceptanceAfterReimage === 'on',
    onError,
    runsHere: deps.runsHere,
    fence: deps.fence,
    observations: deps.observations,
  });
  const acceptanceRequired = config.acceptance === 'on';
  const templates = createClusterTemplates({ store: deps.store, tenants: deps.tenants, reimages, now: deps.now, newId: randomUUID, acceptanceRequired });
  // Every transition's effects, from here on: replacements, isolation, repair tickets, power.
  const executeEffects = createLifecycleEffects({
    store: deps.store, events: deps.events, tenants: deps.tenants, templates, reimages, settleFabric, now: deps.now, onError, acceptanceRequired,
    ...(deps.revokeCertificates ? { revokeCertificates: deps.revokeCertificates } : {}),
    powerOff: async (nodeId) => {
      const bmc = await deps.store.getBmc(nodeId);
      if (bmc) await bmcDriver(bmc).powerOff();
      return bmc !== null;
    },
  });
  deps.lifecycle.executeEffectsWith(executeEffects);
  // Replacements no spare fitted when their node failed: made once one does (checked every 5 s, here only).
  const owedReplacements = createOwedReplacements({ store: deps.store, events: deps.events, tenants: deps.tenants, templates, reimages, now: deps.now, acceptanceRequired, onError });
  const remediation = startRemediation({
    store: deps.store, events: deps.events, lifecycle: deps.lifecycle, templates, reimages, outbox, drain, now: deps.now,
    cooldownMs: config.remediationCooldownS * 1000, onError,
  });
  const enrollments = createEnrollments({ store: deps.store, events: deps.events, power: bmcDriver, now: deps.now, onError, admitOnClaim: config.admitDiscovered === 'bmc-enrollment' });
  const stopEnrollments = enrollments.listen();
  // Sent again now for the nodes of this replica's shards; one that gains a shard later sends them again as their acks time out (sweep).
  const resent = await outbox.resume();
  const running = await reimages.start(1000, deps.pausedMs);
  // Failures whose effects (replacement, isolation) the last stop cut off: carried out now.
  // Logged, not fatal: a row the store refuses (an unknown state) must not keep the manager from starting.
  const replaced = !deps.runsHere() ? 0 : await resumeInterruptedEffects(deps.store, executeEffects).catch((error: unknown) => {
    onError(error, { step: 'resume interrupted lifecycle effects' });
    return 0;
  });
  if (resent > 0 || running.resumed > 0 || replaced > 0) {
    deps.logger.warn({ commandsResent: resent, reimagesResumed: running.resumed, failuresResumed: replaced, deadlinesMovedS: Math.round(deps.pausedMs / 1000) },
      'resumed work in flight at the last stop (the time the manager was down does not count against reimage deadlines)');
  }
  let ticks = 0;
  const sweeper = setInterval(() => {
    void outbox.sweep().catch((error: unknown) => onError(error, { step: 'command sweep' }));
    ticks += 1;
    if (ticks % 5 === 0 && deps.runsHere()) void owedReplacements.retry().catch((error: unknown) => onError(error, { step: 'replacements owed' }));
    // Failures whose replica died before their effects, once they are a minute old: see resumeInterruptedEffects.
    if (ticks % 60 === 0 && deps.runsHere()) {
      void resumeInterruptedEffects(deps.store, executeEffects, new Date(deps.now().getTime() - 60_000))
        .catch((error: unknown) => onError(error, { step: 'resume interrupted lifecycle effects' }));
    }
  }, 1000);
  return {
    outbox, reimages, templates, enrollments, remediation,
    async stop() {
      clearInterval(sweeper);
      remediation.stop();
      stopEnrollments();
      await running.stop();
    },
  };
}
