// Composition of the manager: store, broker, gRPC, HTTP and the controllers.
// Everything is created here and closed in reverse order by close().
import { randomUUID } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { AgentService } from '@metalfleet/proto';
import { addService, createNodeBroker } from '@metalfleet/transport';
import { openSqliteFleetStore } from '@metalfleet/store';
import {
  FleetEvents, agentServiceHandlers, createLifecycle, createPresenceTracker, createRegistrar, secretMatches, startLifecycleControllers, startMqttIngest,
} from '@metalfleet/fleet';
import type { ManagerConfig } from './config.ts';
import { ensureBootstrapToken } from './bootstrap-token.ts';
import { buildHttpApp } from './http/http-app.ts';

export interface RunningManager {
  http: string;
  grpc: string;
  mqtt: string;
  bootstrapTokenFile: string | null;
  close(): Promise<void>;
}

function bundledDashboardDir(): string {
  return join(dirname(fileURLToPath(import.meta.resolve('@metalfleet/dashboard/package.json'))), 'public');
}

function bindGrpc(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolvePort, reject) =>
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolvePort(bound))));
}

function urlHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

export async function startManager(config: ManagerConfig, logger: Logger, version: string): Promise<RunningManager> {
  const now = () => new Date();
  const dataDir = resolve(config.dataDir);
  const store = openSqliteFleetStore({ path: join(dataDir, 'fleet.db') });
  const events = new FleetEvents();
  events.on((event) => logger.info({ event }, event.type));

  const bootstrap = ensureBootstrapToken(dataDir, config.bootstrapToken);
  if (bootstrap.created) logger.warn({ file: bootstrap.file }, 'created a bootstrap token for agents; hand it to them with --bootstrap-token-file');

  const broker = await createNodeBroker({
    maxPayloadBytes: config.maxPayloadBytes,
    authenticateNode: async (nodeId, secret) => {
      const hash = await store.credentialHash(nodeId);
      return hash !== null && secretMatches(secret, hash);
    },
    onEvent: (event) => logger.warn({ event }, `mqtt ${event.type}`),
  });
  const mqttAddress = await broker.listen(config.mqttPort, config.listenHost);

  const presence = createPresenceTracker({ store, events, now, heartbeatGraceMs: config.heartbeatGraceS * 1000 });
  await startMqttIngest({ broker, presence, events, now, maxPayloadBytes: config.maxPayloadBytes, store });
  const lifecycle = createLifecycle({ store, events, now });
  const controllers = startLifecycleControllers({
    store, events, lifecycle, now, offlineFailureGraceMs: config.offlineFailureGraceS * 1000,
    onError: (error) => logger.error({ err: error }, 'lifecycle controller failed'),
  });
  const sweeper = setInterval(() => {
    presence.sweep().then(controllers.sweep).catch((error: unknown) => logger.error({ err: error }, 'presence sweep failed'));
  }, Math.max(1000, (config.heartbeatGraceS * 1000) / 3));

  const grpcServer = new Server({ 'grpc.max_receive_message_length': config.grpcMaxMessageBytes });
  const register = createRegistrar({ store, events, bootstrapTokens: () => [bootstrap.token], newNodeId: randomUUID, now });
  addService(grpcServer, AgentService, agentServiceHandlers({
    register,
    store,
    config: {
      mqttHost: config.advertiseHost,
      mqttPort: mqttAddress.port,
      mqttTls: false,
      telemetryIntervalMs: config.telemetryIntervalS * 1000,
      heartbeatIntervalMs: config.telemetryIntervalS * 1000,
      inventoryIntervalMs: config.inventoryIntervalS * 1000,
      healthIntervalMs: config.healthIntervalS * 1000,
      healthDigestIntervalMs: config.healthDigestIntervalS * 1000,
    },
  }), { onInternalError: (method, error) => logger.error({ err: error, method }, 'gRPC call failed') });
  const grpcPort = await bindGrpc(grpcServer, config.listenHost, config.grpcPort);

  const http = await buildHttpApp({
    store, logger, version, startedAt: now(), now,
    dashboardDir: config.dashboardDir !== '' ? resolve(config.dashboardDir) : bundledDashboardDir(),
  });
  await http.listen({ host: config.listenHost, port: config.httpPort });
  const httpAddress = http.server.address();
  const httpPort = typeof httpAddress === 'object' && httpAddress ? httpAddress.port : config.httpPort;

  const host = urlHost(config.listenHost);
  return {
    http: `http://${host}:${httpPort}`,
    grpc: `${host}:${grpcPort}`,
    mqtt: `mqtt://${host}:${mqttAddress.port}`,
    bootstrapTokenFile: bootstrap.file,
    async close() {
      clearInterval(sweeper);
      controllers.stop();
      await http.close();
      await new Promise<void>((done) => grpcServer.tryShutdown(() => done()));
      await broker.close();
      await store.close();
    },
  };
}
