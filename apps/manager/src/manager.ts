// Composition of the manager: store, broker, gRPC, HTTP and the controllers.
// Everything is created here and closed in reverse order by close().
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { skuProfilesInForce, type Alert } from '@metalfleet/domain';
import { ensureCertificateAuthority, issueServerCertificate, type ConnectGate, type NodeBroker } from '@metalfleet/manager-transport';
import {
  claimDataDir, createPrivateFile, isStoreOutage, makeDataDirPrivate, openPgFleetStore, openSqliteFleetStore, retryWhileUnreachable, type ConnectRetry, type DataDirClaim,
} from '@metalfleet/store';
import {
  FleetEvents, createApiTokens, createCommandWithdrawals, createBootTokens, createBootstrapTokens, createFailures, createLifecycle, createNodeCredentials, createPresenceTracker, createRegistrar, createRegistrationAdmission, createSharedCredentialWatch, startAcceptance, startLifecycleControllers, startMqttIngest,
  downtimeAtStart, openSealedSecrets,
} from '@metalfleet/fleet';
import { listenerPorts, type ManagerConfig } from './config.ts';
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
import { openNodeBroker, startSessionAdoption } from './node-broker.ts';
import { openNatsOperator } from './nats.ts';
import { startEventJournalOf } from './event-journal.ts';
import { startPurges } from './purges.ts';
import { startReplicaWork } from './replica-work.ts';
import { openTelemetrySinks } from './telemetry-sinks.ts';
import { startAgentGrpc } from './agent-grpc.ts';
import { openManagerTime } from './manager-time.ts';

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
  const { clock, save: saveClock } = openManagerTime(dataDir, logger);
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
  // This replica's share of the work (replica-work.ts), before any loop starts.
  const { replicaId, leases, runsControlLoops, runsNodeLoops, nodeLoopsFence, nodeFence, checkReplicas } = await startReplicaWork(config, { store, dataDir, logger, level: failureLevel });
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
  const { journal, feed, observations } = startEventJournalOf({ store, events, logger, level: failureLevel });

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
  const nats = tls ? await openNatsOperator(config, { dataDir, caPem: tls.ca.certPem, logger }) : null;
  // Nodes' client certificates: what an external broker checks them by, and what they may show gRPC and the embedded broker.
  // The broker once open: a node whose certificates are revoked loses the connections it made with one.
  let openBroker: NodeBroker | null = null;
  const nodeCertificates = (config.nodeCertificates || external) && tls
    ? await startNodeCertificates({
      ca: tls.ca, dataDir, store, now, ttlS: config.nodeCertificateTtlS, logger: logger.child({ component: 'node-certificates' }), nats, maxPayloadBytes: config.maxPayloadBytes,
      onRevoked: (nodeId) => openBroker?.disconnectNode?.(nodeId),
    })
    : null;
  const broker = await openNodeBroker(config, { ca: tls?.ca ?? null, replicaId, now, logger, withdrawals, nodeCredentials, nodeCertificates: nodeCertificates?.certificates ?? null, nats });
  openBroker = broker;
  // The CA whose node certificates gRPC and the embedded broker ask for (with --node-certificates).
  const clientCaPem = nodeCertificates && tls ? tls.ca.certPem : undefined;

  const telemetry = await openTelemetrySinks(config, { dataDir, now, logger });

  const failures = createFailures({ store, events, onError: (error, context) => logger[failureLevel(error)]({ err: error, ...context }, 'failure analytics step failed') });
  const stopFailures = failures.listen();
  let alertList: () => Alert[] = () => [];
  // The gRPC listener's TLS handshake gate, once it listens (for the metrics).
  let grpcGate: ConnectGate | null = null;
  const registrationAdmission = createRegistrationAdmission({ concurrent: config.maxConcurrentRegistrations, retryAfterMs: config.registrationRetryAfterS * 1000 });
  const metrics = createManagerMetrics(store, events, () => broker.connectedClients(), { failures, alerts: () => alertList(), now }, clock,
    { mqtt: () => broker.admission(), grpc: () => ({ connecting: grpcGate?.active() ?? 0, waiting: grpcGate?.waiting() ?? 0, shed: grpcGate?.shed() ?? 0 }), registrationsRefused: () => registrationAdmission.refused(), registrationsLimit: () => registrationAdmission.limit() });
  const presence = createPresenceTracker({ store, events, now, heartbeatGraceMs: config.heartbeatGraceS * 1000, fenceFor: nodeFence });
  // Set once the command outbox runs (below): before, its resume at start sends what is open.
  let redeliver: (nodeId: string) => Promise<number> = () => Promise.resolve(0);
  await startMqttIngest({ broker, presence, events, now, sharedCredentials: createSharedCredentialWatch({ store, events, now }), maxPayloadBytes: config.maxPayloadBytes, store, telemetry: telemetry.sinks, agentOnline: (nodeId) => void redeliver(nodeId), onIngested: (kind, lagMs) => {
    metrics.ingested.inc({ kind });
    if (lagMs !== null) metrics.ingestLag.observe(lagMs / 1000);
  } });
  const lifecycle = createLifecycle({ store, events, now });
  const controllers = startLifecycleControllers({
    store, events, lifecycle, now, offlineFailureGraceMs: config.offlineFailureGraceS * 1000, fenceFor: nodeFence, acceptanceRequired: config.acceptance === 'on',
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
  // Those made through the API (in the store: every replica judges by the same), the file's, the defaults.
  const fileProfiles = config.skuProfilesFile?.profiles ?? [];
  const profiles = async () => skuProfilesInForce(await store.listSkuProfiles(), fileProfiles);
  let acceptance: ReturnType<typeof startAcceptance> | null = null;
  const reimaging = await startReimaging(config, {
    store, events, lifecycle, broker, withdrawals, tenants: fabric.tenants, reconciler: fabric.reconciler, switches: fabric.drivers.length, now, logger: logger.child({ component: 'reimaging' }), publicUrl: () => publicUrl,
    // From the last sign of the run before (clock.json, or the store's later writes when that file was left stale), at most 6 h (docs/time.md).
    pausedMs: await downtimeAtStart(clock, store),
    runsHere: runsNodeLoops,
    // Each step written under the lease's epoch: a replica paused past it writes nothing when it wakes.
    fence: nodeLoopsFence,
    nodeFence,
    // A node's boot script or install registration may be served by any replica: its evidence comes through the journal.
    observations,
    // A retired node's certificates, whoever retired it.
    revokeCertificates: nodeCertificates ? (nodeId) => nodeCertificates.certificates.revokeAll(nodeId) : null,
    // Following the outbox before its first report (one waiting in an external broker's queue is judged, not lost).
    beforeListening: (outbox) => {
      acceptance = startAcceptance({
        store, events, lifecycle, outbox, profiles, now, fenceFor: nodeFence, retireAfterFailures: config.retireAfterAcceptanceFailures, suiteTimeoutMs: config.acceptanceTimeoutS * 1000,
        onError: (error) => logger[failureLevel(error)]({ err: error }, 'acceptance testing failed'),
      });
    },
  });
  redeliver = reimaging.outbox.redeliver;
  // Nodes are let in once every handler of what they send is in place: a report with no handler yet would be acknowledged and lost.
  const mqttAddress = external ? null : await listenAs(ports.mqtt, config.listenHost,
    () => broker.listen(config.mqttPort, config.listenHost, tls ? { keyPem: tls.cert.keyPem, chainPem: tls.cert.chainPem, ...(clientCaPem ? { clientCaPem } : {}) } : undefined));
  // What agents are told to connect to: this manager's broker, or every node of the external one.
  const brokers = external
    ? config.mqttUrl.map((url) => ({ host: new URL(url).hostname, port: Number(new URL(url).port), tls: url.startsWith('mqtts:') }))
    : [{ host: config.advertiseHost, port: mqttAddress?.port ?? 0, tls: tls !== null }];
  const sweeper = setInterval(() => {
    checkReplicas();
    saveClock();
    // Every replica stores when it last heard from the nodes whose messages it took, and marks the silent ones of its shards offline.
    presence.sweep().then(controllers.sweep)
      .catch((error: unknown) => logger[failureLevel(error)]({ err: error }, 'presence sweep failed'));
    // Apart: a failed presence sweep does not stop suites being sent, nor overdue ones failed.
    acceptance?.sweep().catch((error: unknown) => logger[failureLevel(error)]({ err: error }, 'acceptance sweep failed'));
  }, Math.max(1000, (config.heartbeatGraceS * 1000) / 3));

  const sessionAdoption = external && tls ? startSessionAdoption({
    broker, store, replicaId, ca: tls.ca, runsHere: runsNodeLoops, intervalMs: config.leaseTtlS * 1000, logger,
    onError: (error) => logger[failureLevel(error)]({ err: error }, 'could not take over a dead replica\'s broker session'),
  }) : null;

  const register = createRegistrar({ store, events, tokens, admitDiscovered: config.admitDiscovered, newNodeId: randomUUID, now });
  const purges = startPurges(config, { store, bootTokens, now, runsHere: runsControlLoops, logger, level: failureLevel });
  const agentGrpc = await startAgentGrpc(config, {
    service: {
      register,
      admission: registrationAdmission,
      credentials: nodeCredentials,
      store,
      claimCommand: reimaging.outbox.claim,
      certificates: nodeCertificates?.certificates ?? null,
      reportsWaiting: () => broker.reportsWaiting?.() ?? null,
      now,
      config: {
        brokers,
        telemetryIntervalMs: config.telemetryIntervalS * 1000,
        heartbeatIntervalMs: config.telemetryIntervalS * 1000,
        inventoryIntervalMs: config.inventoryIntervalS * 1000,
        healthIntervalMs: config.healthIntervalS * 1000,
        healthDigestIntervalMs: config.healthDigestIntervalS * 1000,
      },
    },
    tls: tls && { keyPem: tls.cert.keyPem, chainPem: tls.cert.chainPem, ...(clientCaPem ? { clientCaPem } : {}) },
    logger,
    level: failureLevel,
  });
  grpcGate = agentGrpc.gate;
  grpcPort = agentGrpc.port;

  const dashboardDir = config.dashboardDir !== '' ? resolve(config.dashboardDir) : bundledDashboardDir();
  if (dashboardDir === null) logger.warn('the dashboard is not built (npm run build -w @metalfleet/dashboard): / serves nothing');
  const http = await buildHttpApp({
    store, skuProfiles: { file: fileProfiles }, logger, version, startedAt: now(), now, tokens, apiTokens, telemetry: telemetry.rollups, events, feed, metrics,
    fabric: { tenants: fabric.tenants, reconciler: fabric.reconciler, lifecycle, drivers: fabric.drivers, provisioningVlan: config.provisioningVlan },
    operations: { reimages: reimaging.reimages, templates: reimaging.templates },
    nodeActions: { remediation: reimaging.remediation, certificates: nodeCertificates?.certificates ?? null, store },
    failures,
    alerts: { engine: alerting.engine, rules: alerting.rules },
    power: { driverFor: bmcDriver, enrollments: reimaging.enrollments, bmcNetworks: config.bmcNetworks },
    boot: null,
    https: config.httpTls && pki ? { keyPem: pki.cert.keyPem, chainPem: pki.cert.chainPem } : null,
    dashboardDir,
    broker: stateSince(() => broker.listening() && (broker.reportsWaiting?.() ?? null) === null, now),
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
      purges.stop();
      sessionAdoption?.stop();
      nodeCertificates?.stop();
      controllers.stop();
      acceptance?.stop();
      await alerting.stop();
      stopFailures();
      await reimaging.stop();
      await fabric.stop();
      await http.close();
      await bootApp.close();
      await imageDigests.close();
      await agentGrpc.close();
      await broker.close();
      await nats?.close();
      telemetry.stopFlushing();
      // What was emitted while stopping is stored before the store closes.
      await journal.stop();
      await telemetry.close();
      await store.close();
    },
  };
}
