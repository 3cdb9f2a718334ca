// This replica's share of the work, through leases in the store
// (lease-keeper.ts): its node shards (each node's presence and offline sweep,
// command resends and give-ups), the two singletons, and the warning that its
// telemetry rollups are its own once other replicas are seen.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { createLeaseKeeper } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';
import type { ManagerConfig } from './config.ts';

/** The singleton lease of the loops one replica runs for all: alert evaluation and notifiers, the periodic fabric reconcile, purges. */
const controlLoops = 'control-loops';
/**
 * The singleton lease of reimaging: the scheduler (global, per-rack and per-tenant limits, maintenance windows) and
 * the steps of the nodes it started, and the adoption of a dead replica's broker session. The rest of the per-node
 * work goes by node shard. Reimage steps stay with the scheduler: they are few at a time (bounded by the limits), and
 * a start handed from the scheduler to another replica's shard would cost a round trip through the store per node.
 */
const nodeLoops = 'node-loops';

/**
 * The first round before any loop starts: a lone manager holds everything from the start; with SQLite it always is
 * alone (the data directory lock). By default a replica is its host and data directory: restarted, it takes its
 * leases back at once (new epochs).
 */
export async function startReplicaWork(config: ManagerConfig, deps: { store: FleetStore; dataDir: string; logger: Logger; level: (error: unknown) => 'debug' | 'error' }) {
  const { logger } = deps;
  const replicaId = config.replicaId !== '' ? config.replicaId : `${hostname()}:${deps.dataDir}`;
  const leases = createLeaseKeeper({ store: deps.store, holder: replicaId, ttlMs: config.leaseTtlS * 1000, singletons: [controlLoops, nodeLoops],
    onSharedId: (lease) => logger.error({ replicaId, lease }, 'another manager runs under this replica id: each takes the other\'s work leases; give each replica its own --replica-id'),
  });
  const roundFailed = (error: unknown) => logger[deps.level(error)]({ err: error }, 'lease round failed (work held is given up when its leases can no longer be renewed)');
  // A store that cannot write now (a full disk) does not stop the start: the loops wait for a round that succeeds.
  await leases.tick().catch(roundFailed);
  leases.start(roundFailed);

  // The rollups in telemetry.db are this replica's own: with several, each answers for what it ingested only.
  const rollupsNote = 'the embedded telemetry rollups (telemetry.db, the API\'s telemetry answers) hold only what this replica ingested: '
    + 'with several replicas, read fleet telemetry from InfluxDB or VictoriaMetrics (--influx-url)';
  if (config.postgresUrl !== '') logger.info(rollupsNote);
  let rollupsWarned = false;
  return {
    replicaId,
    leases,
    runsControlLoops: () => leases.runsSingleton(controlLoops),
    runsNodeLoops: () => leases.runsSingleton(nodeLoops),
    /** The fence reimage steps are written under. */
    nodeLoopsFence: () => leases.singletonFence(nodeLoops),
    /** The fence of a node's own work here (its shard's lease), or null when another replica owns the node now. */
    nodeFence: (nodeId: string) => leases.fenceForNode(nodeId),
    /** Called now and then: says once that the rollups are this replica's own, when it first sees another. */
    checkReplicas() {
      if (rollupsWarned || leases.replicas() <= 1) return;
      rollupsWarned = true;
      logger.warn({ replicas: leases.replicas() }, rollupsNote);
    },
  };
}
