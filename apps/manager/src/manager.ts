// Composition of the manager: store, broker, gRPC, HTTP and the controllers.
// Everything is created here and closed in reverse order by close().
import { createHmac, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Alert } from '@metalfleet/domain';
import { AgentService } from '@metalfleet/proto';
import { addService } from '@metalfleet/transport';
import {
  connectExternalBroker, createNodeBroker, ensureCertificateAuthority, issueManagerClientCertificate, issueServerCertificate, listenGrpcForStorm, listenGrpcTlsForStorm, type ConnectGate,
} from '@metalfleet/manager-transport';
import {
  claimDataDir, createPrivateFile, freeDiskBytes, isStoreOutage, makeDataDirPrivate, openPgFleetStore, openSqliteFleetStore, retryWhileUnreachable, type ConnectRetry, type DataDirClaim,
} from '@metalfleet/store';
import { InfluxSink, RollupStore, type TelemetrySink } from '@metalfleet/telemetry';
import {
  FleetEvents, agentServiceHandlers, createApiTokens, createCommandWithdrawals, createBootTokens, createBootstrapTokens, createFailures, createLifecycle, createNodeCredentials, createPresenceTracker, createRegistrar, createRegistrationAdmission, startLifecycleControllers, startMqttIngest,
  downtimeAtStart, openManagerClock, openSealedSecrets, createLeaseKeeper, startEventJournal, createJournalFeed,
} from '@metalfleet/fleet';
import { listenerPorts, type ManagerConfig } from './config.ts';

/** The singleton lease of the loops one replica runs for all: alert evaluation and notifiers, the periodic fabric reconcile, boot token purges. */
const controlLoops = 'control-loops';
/**
 * The singleton lease of the per-node work: reimage steps, command resends and give-ups, offline sweeps. One replica
 * does it; the others serve the API, take node messages and registrations (whatever they store, the one doing the
 * work takes from the store). Not yet spread over node shards (issue 21): its replica is a ceiling on that work.
 */
const nodeLoops = 'node-loops';
/** The common name of the manager's client certificate on an external broker: its ACL grants it the manager's topics (deploy/ha). */
const managerBrokerIdentity = 'metalfleet-manager';
import { checkListenable, listenAs } from './listen-check.ts';
import { ensureBootstrapTokenFile } from './bootstrap-token.ts';
import { ensureAdminTokenFile } from './admin-token.ts';
import { buildHttpApp } from './http/http-app.ts';
import { buildBootApp } from './http/boot-app.ts';
import { createFileDigests } from './http/file-digests.ts';
import { createManagerMetrics, registerImageDigestMetrics, registerLeaseMetrics } from './http/metrics-routes.ts';
import { startFabric } from './fabric.ts';
import { startAlerting } from './alerting.ts';
import { logStoreAvailability } from './store-log.ts';
import { bmcDriver, startReimaging } from './reimaging.ts';
import { startNodeCertificates } from './node-certificates.ts';

export interface RunningManager {
  /** The REST API and dashboard: https:// unless --http-tls false. */
  http: string;
  /** The plain-HTTP boot endpoint (/boot/ipxe, /images/). */
  boot: string;
  /** The CA clients of the HTTPS API trust; null when the manager has no CA (--tls false and --http-tls false). */
  caFile: string | null;
  grpc: string;
  mqtt: string;
  bootstrapTokenFile: string;
  adminTokenFile: string;
  caFingerprint: string | null;
  close(): Promise<void>;
}

/** The dashboard as `npm ci` builds it (apps/dashboard/dist); null when it was not built. */
function bundledDashboardDir(): string | null {
  const dist = join(dirname(fileURLToPath(import.meta.resolve('@metalfleet/dashboard/package.json'))), 'dist');
  return existsSync(join(dist, 'index.html')) ? dist : null;
}

/** The CA and server certificate, when any listener speaks TLS. */
async function serverTls(config: ManagerConfig, dataDir: string, logger: Logger) {
  if (!config.tls && !config.httpTls) return null;
  const ca = await ensureCertificateAuthority(join(dataDir, 'pki'));
  if (ca.created) logger.warn({ dir: join(dataDir, 'pki'), fingerprint: ca.fingerprint }, 'created the manager CA');
  const hosts = ['localhost', '127.0.0.1', '::1', hostname(), config.advertiseHost, ...(config.listenHost !== '0.0.0.0' ? [config.listenHost] : []),
    ...config.tlsHosts];
  return { ca, caFile: join(dataDir, 'pki', 'ca.crt'), cert: await issueServerCertificate(ca, hosts) };
}

/**
 * A replica's client id on an external broker: one session each, which another replica can take over when it dies.
 * Keyed with the CA's private key, which the replicas share and no node has: Mosquitto does not tie a client id to
 * its certificate, and a tenant who could guess a replica's id (its host name and data directory) could take its
 * session over with its own node certificate.
 */
function brokerClientId(replicaId: string, key: string): string {
  return `mf-manager-${createHmac('sha256', key).update(replicaId).digest('hex').slice(0, 24)}`;
}

/** A store outage is logged once, when it starts (store-log.ts); what fails because of it meanwhile is not logged again. */
function failureLevel(error: unknown): 'debug' | 'error' {
  return isStoreOutage(error) ? 'debug' : 'error';
}

/** A yes/no state for /readyz, and since when it has been so. */
function stateSince(read: () => boolean, now: () => Date): () => { ok: boolean; since: Date } {
  let state = { ok: read(), since: now() };
  return () => {
    const ok = read();
    if (ok !== state.ok) state = { ok, since: now() };
    return state;
  };
}

function urlHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

/**
 * Starts the manager once it holds its data directory (one manager per directory, see claimDataDir)
 * and has found the store there, or made it with --init; the lock is let go when it closes.
 */
export async function startManager(config: ManagerConfig, logger: Logger, version: string): Promise<RunningManager> {
  const dataDir = resolve(config.dataDir);
  const connectRetry = startupConnectRetry(config, logger);
  const claim = await claimDataDir({
    dir: dataDir, init: config.init, ca: config.tls || config.httpTls,
    postgres: config.postgresUrl === '' ? null : { connectionString: config.postgresUrl, schema: config.postgresSchema }, connectRetry,
  });
  if (claim.found.created) logger.warn({ dataDir, store: claim.found.store }, 'setting up a new manager (--init)');
  else logger.info({ dataDir, ...claim.found }, 'data directory locked; fleet state found');
  try {
    const running = await startOnDataDir(config, logger, version, dataDir, connectRetry, claim.init);
    return { ...running, close: () => running.close().finally(() => claim.lock.release()) };
  } catch (error) {
    claim.lock.release();
    throw error;
  }
}

/** A test hook (METALFLEET_TEST_HOOK_INIT_KILL_AFTER, read by config.ts): dies as kill -9 would after the named step of --init. */
function initStepDone(config: ManagerConfig, step: 'begin' | 'database' | 'secret-key' | 'ca'): void {
  if (config.testHookInitKillAfter === step) process.kill(process.pid, 'SIGKILL');
}

/** One deadline for every step of the start that connects to PostgreSQL, and a log line for each attempt that failed. */
function startupConnectRetry(config: ManagerConfig, logger: Logger): ConnectRetry {
  return {
    // On the monotonic clock: a host clock step during the start neither cuts the wait short nor stretches it.
    deadline: performance.now() + config.storeConnectTimeoutS * 1000,
    now: () => performance.now(),
    onRetry: ({ attempt, reason, retryInMs, waitedMs }) =>
      logger.warn({ attempt, reason, retryInMs, waitedS: Math.round(waitedMs / 1000), timeoutS: config.storeConnectTimeoutS }, 'PostgreSQL does not answer yet; retrying'),
  };
}

async function startOnDataDir(
  config: ManagerConfig, logger: Logger, version: string, dataDir: string, connectRetry: ConnectRetry, init: DataDirClaim['init'],
): Promise<RunningManager> {
  // One time base for every deadline, expiry and record: host clock steps are absorbed, not followed (docs/time.md).
  const clock = openManagerClock(join(dataDir, 'clock.json'), (step) => logger[step.adopted ? 'error' : 'warn']({ offsetS: Math.round(step.gapMs / 1000) },
    step.adopted ? 'the host clock is more than 6 h off the manager\'s time: adopted it at once; deadlines in flight may fire'
      : 'the host clock stepped: the manager\'s time does not jump with it, it catches up at 10 % of the time that passes'));
  if (clock.resumed) logger.info({ offsetS: Math.round(clock.offsetMs() / 1000) }, 'the manager\'s time carries on from clock.json (host clock minus manager time: offsetS)');
  const now = clock.now;
  const ports = listenerPorts(config);
  // A port taken by another process stops the start here, before anything but the lock is written.
  // With an external broker (--mqtt-url) the manager listens for no MQTT: its --mqtt-port is not checked.
  await checkListenable(config.listenHost, Object.values(ports).filter((port) => port !== ports.mqtt || config.mqttUrl.length === 0));
  init?.begin();
  initStepDone(config, 'begin');
  // The data directory and its databases are this user's alone (700/600), also when an older manager made them readable.
  makeDataDirPrivate(dataDir);
  if (config.postgresUrl === '') createPrivateFile(join(dataDir, 'fleet.db'));
  createPrivateFile(join(dataDir, 'telemetry.db'));
  const onAvailabilityChange = logStoreAvailability(logger, { dataDir, postgres: config.postgresUrl !== '' });
  const openedStore = config.postgresUrl !== ''
    ? await retryWhileUnreachable('PostgreSQL', () => openPgFleetStore({ connectionString: config.postgresUrl, schema: config.postgresSchema, onAvailabilityChange }), connectRetry)
    : openSqliteFleetStore({ path: join(dataDir, 'fleet.db'), onAvailabilityChange });
  logger.info({ store: config.postgresUrl !== '' ? `postgresql (schema ${config.postgresSchema})` : join(dataDir, 'fleet.db') }, 'fleet state store open');
  initStepDone(config, 'database');
  // BMC passwords are sealed at rest with a key kept out of the store; from here on the manager sees them only through `store`.
  const secretKeyFile = resolve(config.secretKeyFile !== '' ? config.secretKeyFile : join(dataDir, 'secret.key'));
  const secrets = await openSealedSecrets(openedStore, secretKeyFile).catch(async (error: unknown) => {
    await openedStore.close();
    throw error;
  });
  const store = secrets.store;
  initStepDone(config, 'secret-key');
  // This replica's share of the work, through leases in the store (lease-keeper.ts). The first round before any loop
  // starts: a lone manager holds everything from the start; with SQLite it always is alone (the data directory lock).
  // By default a replica is its host and data directory: restarted, it takes its leases back at once (new epochs).
  const replicaId = config.replicaId !== '' ? config.replicaId : `${hostname()}:${dataDir}`;
  const leases = createLeaseKeeper({ store, holder: replicaId, ttlMs: config.leaseTtlS * 1000, singletons: [controlLoops, nodeLoops],
    onSharedId: (lease) => logger.error({ replicaId, lease }, 'another manager runs under this replica id: each takes the other\'s work leases; give each replica its own --replica-id'),
  });
  const leaseRoundFailed = (error: unknown) => logger[failureLevel(error)]({ err: error }, 'lease round failed (work held is given up when its leases can no longer be renewed)');
  // A store that cannot write now (a full disk) does not stop the start: the loops wait for a round that succeeds.
  await leases.tick().catch(leaseRoundFailed);
  leases.start(leaseRoundFailed);
  const runsControlLoops = () => leases.runsSingleton(controlLoops);
  const runsNodeLoops = () => leases.runsSingleton(nodeLoops);
  if (secrets.created) logger.warn({ file: secretKeyFile, keyId: secrets.keyId }, 'created the key that seals stored BMC passwords; back it up apart from the database');
  if (secrets.sealedNow > 0) logger.warn({ count: secrets.sealedNow, keyId: secrets.keyId }, 'sealed BMC passwords that were stored in plaintext');
  const events = new FleetEvents({ onListenerError: (error, event) => logger[failureLevel(error)]({ err: error, eventType: event.type }, 'a fleet event listener failed') });
  // What an operator must look at is logged above info: someone changed a switch port, cabling disagrees, a switch fails,
  // someone else asked for a reimaging node's install script or used its token from elsewhere.
  const loud: Record<string, 'warn' | 'error'> = {
    'port-drift-repaired': 'warn', 'cabling-warning': 'warn', 'fabric-error': 'error', 'identity-conflict': 'warn', 'install-refused': 'warn',
  };
  events.on((event) => logger[loud[event.type] ?? 'info']({ event }, event.type));
  // Every event into the store's journal, where the event streams of every replica read it.
  const journal = startEventJournal({
    store, events,
    onError: (error) => logger[failureLevel(error)]({ err: error }, 'could not store fleet events in the event journal; they are kept and retried'),
    onDropped: (total) => logger.error({ droppedInAll: total }, 'the event journal could not be written for too long: the oldest waiting events were dropped (event streams will not show them)'),
  });
  const feed = createJournalFeed({ store, onError: (error) => logger[failureLevel(error)]({ err: error }, 'reading the event journal failed; tried again') });

  const pki = await serverTls(config, dataDir, logger);
  initStepDone(config, 'ca');
  // gRPC and MQTT (the nodes' side) follow --tls; the API and dashboard follow --http-tls.
  const tls = config.tls ? pki : null;
  const tokens = createBootstrapTokens({ store, now, caFingerprint: tls?.ca.fingerprint ?? null });
  const bootstrap = await ensureBootstrapTokenFile(dataDir, tokens, config.initialTokenTtlH);
  const apiTokens = createApiTokens({ store, now });
  const admin = await ensureAdminTokenFile(dataDir, apiTokens);
  if (admin.created) logger.warn({ file: admin.file }, 'created an admin API token; it is in this file (readable only by this user)');
  if (bootstrap.created) logger.warn({ file: bootstrap.file }, 'wrote a bootstrap token for agents; hand it to them with --bootstrap-token-file');
  // All of a new manager's state is there: from now on it starts without --init.
  init?.finish();

  const withdrawals = createCommandWithdrawals(now);
  // The first use of a node's credential, on MQTT or gRPC, ends the retry of the registration that gave it.
  const nodeCredentials = createNodeCredentials(store);
  // An external broker (--mqtt-url) checks nodes by their certificates; the embedded one by their credentials.
  const external = config.mqttUrl.length > 0;
  const broker = external && tls ? await connectExternalBroker({
    urls: config.mqttUrl,
    tls: { caPem: tls.ca.certPem, ...(await issueManagerClientCertificate(tls.ca, managerBrokerIdentity, now(), new Date(now().getTime() + 397 * 86_400_000))) },
    // One session per replica: what the broker keeps for it while it restarts is its own.
    clientId: brokerClientId(replicaId, tls.ca.keyPem),
    onEvent: (event) => logger.warn({ event }, `mqtt ${event.type}`),
    onConnection: ({ connected, url, reason }) => logger[connected ? 'info' : 'warn']({ url }, connected ? 'connected to the external broker' : `external broker: ${reason}`),
  }) : await createNodeBroker({
    mayForward: withdrawals.mayForward,
    maxPayloadBytes: config.maxPayloadBytes,
    maxConnectionsPerAddress: config.mqttMaxConnectionsPerAddress,
    maxUnauthenticatedPacketBytes: config.mqttMaxUnauthenticatedPacketBytes,
    maxUnauthenticatedConnections: config.mqttMaxUnauthenticatedConnections,
    maxConcurrentConnects: config.mqttMaxConcurrentConnects,
    maxConnectWaitMs: config.connectWaitS * 1000,
    authenticateNode: nodeCredentials.check,
    // Connections shed in a storm are counted (metalfleet_mqtt_connections_refused_total), not logged one by one.
    onEvent: (event) => (event.type === 'connection-shed' ? undefined : logger.warn({ event }, `mqtt ${event.type}`)),
  });

  const rollups = new RollupStore({ path: join(dataDir, 'telemetry.db'), now });
  const telemetry: TelemetrySink[] = [rollups];
  if (config.influxUrl !== '') {
    const influx = new InfluxSink({ url: config.influxUrl, database: config.influxDatabase, onError: (error) => logger.warn({ err: error }, 'InfluxDB write failed; will retry') });
    await influx.init();
    telemetry.push(influx);
  }
  // A sink that keeps failing (a full disk under telemetry.db, InfluxDB away) is logged when it starts and when it is over, not every 5 s.
  const failingSinks = new Set<string>();
  const flusher = setInterval(() => {
    for (const sink of telemetry) {
      sink.flush().then(() => {
        if (failingSinks.delete(sink.name)) logger.warn({ sink: sink.name }, 'telemetry flush works again');
      }, (error: unknown) => {
        if (failingSinks.has(sink.name)) return;
        failingSinks.add(sink.name);
        logger.error({ err: error, sink: sink.name, dataDir, freeBytes: freeDiskBytes(dataDir) }, 'telemetry flush failed; retried every 5 s, logged again when it works');
      });
    }
  }, 5000);

  const failures = createFailures({ store, events, onError: (error, context) => logger[failureLevel(error)]({ err: error, ...context }, 'failure analytics step failed') });
  const stopFailures = failures.listen();
  let alertList: () => Alert[] = () => [];
  // The gRPC listener's TLS handshake gate, once it listens (for the metrics).
  let grpcGate: ConnectGate | null = null;
  const registrationAdmission = createRegistrationAdmission({ concurrent: config.maxConcurrentRegistrations, retryAfterMs: config.registrationRetryAfterS * 1000 });
  const metrics = createManagerMetrics(store, events, () => broker.connectedClients(), { failures, alerts: () => alertList(), now }, clock,
    { mqtt: () => broker.admission(), grpc: () => ({ connecting: grpcGate?.active() ?? 0, waiting: grpcGate?.waiting() ?? 0, shed: grpcGate?.shed() ?? 0 }), registrationsRefused: () => registrationAdmission.refused(), registrationsLimit: () => registrationAdmission.limit() });
  const presence = createPresenceTracker({ store, events, now, heartbeatGraceMs: config.heartbeatGraceS * 1000 });
  await startMqttIngest({ broker, presence, events, now, maxPayloadBytes: config.maxPayloadBytes, store, telemetry, onIngested: (kind, lagMs) => {
    metrics.ingested.inc({ kind });
    if (lagMs !== null) metrics.ingestLag.observe(lagMs / 1000);
  } });
  const lifecycle = createLifecycle({ store, events, now });
  const controllers = startLifecycleControllers({
    store, events, lifecycle, now, offlineFailureGraceMs: config.offlineFailureGraceS * 1000,
    onError: (error) => logger[failureLevel(error)]({ err: error }, 'lifecycle controller failed'),
  });
  const fabric = startFabric(config, { store, events, lifecycle, now, logger: logger.child({ component: 'fabric' }), runsHere: runsControlLoops });
  const reachableHost = config.advertiseHost || urlHost(config.listenHost);
  // The boot endpoint listens before anything can resume a reimage: the URL nodes fetch their boot script from
  // goes into reimage commands, and it must be absolute (a relative /boot/ipxe?… was sent after a restart).
  // Its requests wait until everything has started: what it serves is evidence the reimage controller must see.
  const bootTokens = createBootTokens({
    tokens, store, now,
    limits: { discoveryTtlSeconds: config.discoveryTokenTtlS, discoveryPerMac: config.discoveryTokensPerMac, discoveryMax: config.discoveryTokensMax, installTtlSeconds: 3600 },
  });
  const imageDir = resolve(config.imageDir !== '' ? config.imageDir : join(dataDir, 'images'));
  mkdirSync(imageDir, { recursive: true });
  // Hashed in the background from start, kept in the data directory: a request never waits for a 30 GB image to be hashed.
  const imageDigests = createFileDigests({ root: imageDir, ledgerFile: join(dataDir, 'image-digests.json'), log: logger.child({ component: 'images' }) });
  let grpcPort = config.grpcPort;
  let started = () => undefined as void;
  const bootApp = await buildBootApp({
    store, events, now, logger,
    managerAddress: () => `${reachableHost}:${grpcPort}`, publicUrl: () => publicUrl, discoveryImage: config.discoveryImage,
    imageDir, imageDigests, bootTokens, retryAfterS: config.discoveryTokenTtlS, installTimeoutMs: config.reimageBootTimeoutS * 1000, started: new Promise<void>((resolve) => { started = resolve; }),
  });
  await listenAs(ports.boot, config.listenHost, () => bootApp.listen({ host: config.listenHost, port: config.bootPort }));
  void imageDigests.start();
  registerImageDigestMetrics(metrics.registry, () => imageDigests.status());
  registerLeaseMetrics(metrics.registry, leases);
  const listeningPort = (server: typeof bootApp.server, fallback: number) => {
    const address = server.address();
    return typeof address === 'object' && address ? address.port : fallback;
  };
  const bootPort = listeningPort(bootApp.server, config.bootPort);
  const publicUrl = config.publicUrl !== '' ? config.publicUrl : `http://${reachableHost}:${bootPort}`;
  let dashboardUrl = config.dashboardUrl;
  const alerting = await startAlerting(config, {
    store, events, failures, reconciler: fabric.drivers.length > 0 ? fabric.reconciler : null, now, publicUrl: () => dashboardUrl, logger: logger.child({ component: 'alerting' }),
    runsHere: runsControlLoops,
  });
  alertList = () => alerting.engine.list(now());
  const reimaging = await startReimaging(config, {
    store, events, lifecycle, broker, withdrawals, tenants: fabric.tenants, reconciler: fabric.reconciler, switches: fabric.drivers.length, now, logger: logger.child({ component: 'reimaging' }), publicUrl: () => publicUrl,
    // From the last sign of the run before (clock.json, or the store's later writes when that file was left stale), at most 6 h (docs/time.md).
    pausedMs: await downtimeAtStart(clock, store),
    runsHere: runsNodeLoops,
    // Each step written under the lease's epoch: a replica paused past it writes nothing when it wakes.
    fence: () => leases.singletonFence(nodeLoops),
    // A node's boot script or install registration may be served by any replica: its evidence comes through the journal.
    observations: {
      on: (listener) => {
        let off: (() => void) | null = null;
        let stopped = false;
        void feed.subscribe(null, (_seq, event) => listener(event)).then((unsubscribe) => (stopped ? unsubscribe() : (off = unsubscribe)));
        return () => {
          stopped = true;
          off?.();
        };
      },
      caughtUp: async () => {
        await journal.flushed();
        await feed.caughtUp();
      },
    },
  });
  // Nodes are let in once every handler of what they send is in place: a report with no handler yet would be acknowledged and lost.
  const mqttAddress = external ? null : await listenAs(ports.mqtt, config.listenHost,
    () => broker.listen(config.mqttPort, config.listenHost, tls ? { keyPem: tls.cert.keyPem, chainPem: tls.cert.chainPem } : undefined));
  // What agents are told to connect to: this manager's broker, or every node of the external one.
  const brokers = external
    ? config.mqttUrl.map((url) => ({ host: new URL(url).hostname, port: Number(new URL(url).port), tls: url.startsWith('mqtts:') }))
    : [{ host: config.advertiseHost, port: mqttAddress?.port ?? 0, tls: tls !== null }];
  // A failing write is an episode, logged once as it starts and once as it ends: a restart meanwhile finds clock.json
  // stale, and bounds its downtime by the store's writes instead (downtime.ts).
  const saveClock = () => {
    const failingSince = clock.saveFailingSince();
    try {
      clock.save();
      if (failingSince) logger.info({ failedForS: Math.round((now().getTime() - failingSince.getTime()) / 1000) }, 'clock.json written again');
    } catch (error) {
      if (!failingSince) logger.error({ err: error }, 'could not write clock.json (the manager\'s time, for a restart); trying again every sweep');
    }
  };
  // The rollups in telemetry.db are this replica's own: with several, each answers for what it ingested only.
  const rollupsNote = 'the embedded telemetry rollups (telemetry.db, the API\'s telemetry answers) hold only what this replica ingested: '
    + 'with several replicas, read fleet telemetry from InfluxDB or VictoriaMetrics (--influx-url)';
  if (config.postgresUrl !== '') logger.info(rollupsNote);
  let rollupsWarned = false;
  const sweeper = setInterval(() => {
    if (!rollupsWarned && leases.replicas() > 1) {
      rollupsWarned = true;
      logger.warn({ replicas: leases.replicas() }, rollupsNote);
    }
    saveClock();
    // Every replica stores when it last heard from the nodes whose messages it took; one marks the silent ones offline.
    (runsNodeLoops() ? presence.sweep().then(controllers.sweep) : presence.flush())
      .catch((error: unknown) => logger[failureLevel(error)]({ err: error }, 'presence sweep failed'));
  }, Math.max(1000, (config.heartbeatGraceS * 1000) / 3));

  // What the broker kept for a replica that died (queued, or delivered and never acknowledged) is taken over by the
  // replica doing the per-node work: it would be lost with that replica's session otherwise.
  const adoptedSessions = new Set<string>();
  const adoptDeadSessions = async () => {
    for (const lease of await store.listLeases()) {
      if (!lease.name.startsWith('replica/') || lease.holder === replicaId) continue;
      if (lease.live) {
        adoptedSessions.delete(lease.holder);
        continue;
      }
      if (adoptedSessions.has(lease.holder) || !broker.adoptSession || !tls) continue;
      // Marked once taken over, not before: one that failed (the broker away) is tried again at the next round.
      const messages = await broker.adoptSession(brokerClientId(lease.holder, tls.ca.keyPem));
      adoptedSessions.add(lease.holder);
      logger.warn({ replica: lease.holder, messages }, 'took over the broker session of a replica whose lease expired, and what the broker had kept for it');
    }
  };
  let adopting: Promise<void> | null = null;
  const sessionAdopter = external ? setInterval(() => {
    if (!runsNodeLoops() || adopting) return;
    adopting = adoptDeadSessions().catch((error: unknown) => logger[failureLevel(error)]({ err: error }, 'could not take over a dead replica\'s broker session'))
      .finally(() => (adopting = null));
  }, config.leaseTtlS * 1000) : null;

  const grpcServer = new Server({ 'grpc.max_receive_message_length': config.grpcMaxMessageBytes });
  const register = createRegistrar({ store, events, tokens, admitDiscovered: config.admitDiscovered, newNodeId: randomUUID, now });
  const nodeCertificates = (config.nodeCertificates || external) && tls
    ? await startNodeCertificates({ ca: tls.ca, dataDir, store, now, ttlS: config.nodeCertificateTtlS, logger: logger.child({ component: 'node-certificates' }) })
    : null;
  const tokenPurger = setInterval(() => {
    if (!runsControlLoops()) return;
    bootTokens.purgeExpired().then((purged) => {
      if (purged > 0) logger.info({ purged }, 'expired boot tokens deleted');
    }).catch((error: unknown) => logger[failureLevel(error)]({ err: error }, 'boot token purge failed'));
    store.purgeEventsBefore(new Date(now().getTime() - config.eventRetentionH * 3_600_000))
      .catch((error: unknown) => logger[failureLevel(error)]({ err: error }, 'event journal purge failed'));
    // Expired a day ago: no broker accepts them, and the revocation list need not name them.
    store.purgeNodeCertificates(new Date(now().getTime() - 86_400_000))
      .catch((error: unknown) => logger[failureLevel(error)]({ err: error }, 'node certificate purge failed'));
  }, config.bootTokenPurgeIntervalS * 1000);
  addService(grpcServer, AgentService, agentServiceHandlers({
    register,
    admission: registrationAdmission,
    credentials: nodeCredentials,
    store,
    claimCommand: reimaging.outbox.claim,
    certificates: nodeCertificates?.certificates ?? null,
    now,
    config: {
      brokers,
      telemetryIntervalMs: config.telemetryIntervalS * 1000,
      heartbeatIntervalMs: config.telemetryIntervalS * 1000,
      inventoryIntervalMs: config.inventoryIntervalS * 1000,
      healthIntervalMs: config.healthIntervalS * 1000,
      healthDigestIntervalMs: config.healthDigestIntervalS * 1000,
    },
  }), { onInternalError: (method, error) => logger[failureLevel(error)]({ err: error, method }, 'gRPC call failed') });
  // Over TLS the handshakes are done by the storm listener, a bounded number at a time.
  const grpcListener = await listenAs(ports.grpc, config.listenHost, () => (tls
    ? listenGrpcTlsForStorm(grpcServer, { keyPem: tls.cert.keyPem, chainPem: tls.cert.chainPem, maxConcurrentHandshakes: config.grpcMaxConcurrentHandshakes, maxWaitMs: config.connectWaitS * 1000 },
      { host: config.listenHost, port: config.grpcPort }).then((listener) => {
      grpcGate = listener.gate;
      return listener;
    })
    : listenGrpcForStorm(grpcServer, ServerCredentials.createInsecure(), { host: config.listenHost, port: config.grpcPort })));
  grpcPort = grpcListener.address.port;

  const dashboardDir = config.dashboardDir !== '' ? resolve(config.dashboardDir) : bundledDashboardDir();
  if (dashboardDir === null) logger.warn('the dashboard is not built (npm run build -w @metalfleet/dashboard): / serves nothing');
  const http = await buildHttpApp({
    store, logger, version, startedAt: now(), now, tokens, apiTokens, telemetry: rollups, events, feed, metrics,
    fabric: { tenants: fabric.tenants, reconciler: fabric.reconciler, lifecycle, drivers: fabric.drivers, provisioningVlan: config.provisioningVlan },
    operations: { reimages: reimaging.reimages, templates: reimaging.templates },
    nodeActions: { remediation: reimaging.remediation, certificates: nodeCertificates?.certificates ?? null, store },
    failures,
    alerts: { engine: alerting.engine, rules: alerting.rules },
    power: { driverFor: bmcDriver, enrollments: reimaging.enrollments, bmcNetworks: config.bmcNetworks },
    boot: null,
    https: config.httpTls && pki ? { keyPem: pki.cert.keyPem, chainPem: pki.cert.chainPem } : null,
    dashboardDir,
    broker: stateSince(() => broker.listening(), now),
    leases: stateSince(() => leases.renewing(), now),
  });
  await listenAs(ports.http, config.listenHost, () => http.listen({ host: config.listenHost, port: config.httpPort }));
  const httpScheme = config.httpTls ? 'https' : 'http';
  const httpPort = listeningPort(http.server, config.httpPort);
  if (dashboardUrl === '') dashboardUrl = `${httpScheme}://${reachableHost}:${httpPort}`;
  started();

  const host = urlHost(config.listenHost);
  return {
    http: `${httpScheme}://${host}:${httpPort}`,
    boot: `http://${host}:${bootPort}`,
    caFile: pki?.caFile ?? null,
    grpc: `${host}:${grpcPort}`,
    mqtt: external ? config.mqttUrl[0] ?? '' : `${tls ? 'mqtts' : 'mqtt'}://${host}:${mqttAddress?.port ?? 0}`,
    bootstrapTokenFile: bootstrap.file,
    adminTokenFile: admin.file,
    caFingerprint: tls?.ca.fingerprint ?? null,
    async close() {
      // First: the other replicas take this one's work over at once.
      await leases.stop();
      clearInterval(sweeper);
      saveClock();
      clearInterval(tokenPurger);
      if (sessionAdopter) clearInterval(sessionAdopter);
      nodeCertificates?.stop();
      controllers.stop();
      await alerting.stop();
      stopFailures();
      await reimaging.stop();
      await fabric.stop();
      await http.close();
      await bootApp.close();
      await imageDigests.close();
      await grpcListener.close();
      await new Promise<void>((done) => grpcServer.tryShutdown(() => done()));
      await broker.close();
      clearInterval(flusher);
      // What was emitted while stopping is stored before the store closes.
      await journal.stop();
      for (const sink of telemetry) await sink.close();
      await store.close();
    },
  };
}
