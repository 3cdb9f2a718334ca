// One MQTT session as a registered node: retained presence with a last will,
// periodic telemetry, periodic inventory refresh over gRPC. Ends when the
// agent stops, or when the manager no longer accepts the node credential
// (then the agent registers again).
import { randomUUID } from 'node:crypto';
import { createSecureContext, type ConnectionOptions, type SecureContext } from 'node:tls';
import mqtt, { type IClientOptions } from 'mqtt';
import type { Logger } from 'pino';
import { isDomainError, type BackoffPolicy } from '@metalfleet/domain';
import type { HardwareBackend } from '@metalfleet/hardware';
import { inventoryToProto, nodeTopic } from '@metalfleet/transport';
import type { CommandExecutor } from './command-executor.ts';
import type { HealthMonitor } from './health-monitor.ts';
import { statusPayload, telemetryPayload } from './messages.ts';
import { applyReconnectBackoff, firstReconnectPeriod } from './reconnect-backoff.ts';
import type { Registration } from './registration.ts';
import { callAsNode, type NodeCalls } from './node-calls.ts';
import type { SpoolDrainer } from './spool-drainer.ts';
import type { ClientCertificate } from './client-certificate.ts';
import { failureFields } from './log-fields.ts';
import { brokerOrder } from './broker-order.ts';

export type SessionEnd = 'stopped' | 'credential-refused';

export interface SessionDeps {
  registration: Registration;
  /** Calls to the manager as this node (inventory updates). */
  calls: NodeCalls;
  /** The manager's CA when it speaks TLS. */
  caPem: string | null;
  backend: HardwareBackend;
  version: string;
  logger: Logger;
  mqttProtocolVersion: 4 | 5;
  signal: AbortSignal;
  drainer: SpoolDrainer;
  health: HealthMonitor;
  commands: CommandExecutor;
  /** Reconnect delays: exponential with full jitter from initialMs, capped at maxMs, reset by each CONNACK. */
  backoff: BackoffPolicy;
  /** The node's client certificate now, presented to a broker that asks for one (renewed ones from the next connection on). */
  clientCertificate?: () => ClientCertificate | null;
}

// CONNACK codes for a refused credential: 4/5 in MQTT 3.1.1, 134/135 in MQTT 5.
const credentialRefused = new Set([4, 5, 134, 135]);

// One TLS context per CA: a simulator runs thousands of sessions in one process,
// and building a context from PEM costs more than the handshake it serves.
const secureContexts = new Map<string, SecureContext>();
function secureContextFor(caPem: string): SecureContext {
  let context = secureContexts.get(caPem);
  if (!context) {
    context = createSecureContext({ ca: caPem });
    secureContexts.set(caPem, context);
  }
  return context;
}

export function runMqttSession(deps: SessionDeps): Promise<SessionEnd> {
  const { registration: reg, logger } = deps;
  // This run's session, named in every status: a second agent with the same credential shows as a second id (shared-credentials.ts).
  const sessionId = randomUUID();
  const statusTopic = nodeTopic(reg.nodeId, 'status');
  // Each connection's will names the connection: when a dropped connection's will reaches the manager after the next
  // connection came online, the manager can tell it is an earlier connection's and keeps the node online.
  let connection = 1;
  const willOf = (n: number) => ({ topic: statusTopic, payload: Buffer.from(statusPayload('offline', new Date(), deps.version, sessionId, n)), qos: 1 as const, retain: true });
  const commandsTopic = nodeTopic(reg.nodeId, 'commands');
  // mqtt.js hands its options on to tls.connect, secureContext included.
  const options: IClientOptions & Pick<ConnectionOptions, 'secureContext'> = {
    clientId: reg.nodeId,
    username: reg.nodeId,
    clean: false,
    protocolVersion: deps.mqttProtocolVersion,
    // When a whole rack powers on, the broker answers late rather than never: wait
    // for the CONNACK instead of starting a new handshake (the manager closes a connection
    // it cannot set up within 10 s at once), and retry at spread, growing times (below).
    reconnectPeriod: firstReconnectPeriod(deps.backoff),
    connectTimeout: 30_000,
    keepalive: 30,
    // mqtt-packet otherwise builds a Buffer for each of the 65 536 packet ids on the first
    // packet and keeps them: 6.5 MiB of heap, a tenth of the agent's memory, to save a 2-byte alloc.
    writeCache: false,
    will: willOf(1),
  };
  const caPem = deps.caPem;
  // The node's own certificate, when it has one, in a context of its own; otherwise the one shared per CA.
  const tlsContext = (): SecureContext | undefined => {
    if (!reg.mqttTls || !caPem) return undefined;
    const certificate = deps.clientCertificate?.() ?? null;
    return certificate ? createSecureContext({ ca: caPem, key: certificate.keyPem, cert: certificate.certPem }) : secureContextFor(caPem);
  };
  // With a certificate the node shows no credential (the certificate is what the broker knows it by), but a token a
  // broker wants beside it (NATS) as the password; the current one each connection. Without, its credential.
  const password = (): string | undefined => {
    const certificate = reg.mqttTls && caPem ? deps.clientCertificate?.() ?? null : null;
    if (!certificate) return reg.credential;
    return certificate.brokerToken !== '' ? certificate.brokerToken : undefined;
  };
  const setPassword = (target: IClientOptions) => {
    const current = password();
    if (current === undefined) delete target.password;
    else target.password = current;
  };
  setPassword(options);
  if (reg.mqttTls) {
    if (!caPem) throw new Error('the manager requires MQTT over TLS but the agent has no CA to verify it with');
    options.secureContext = tlsContext();
    options.rejectUnauthorized = true;
  }
  const protocol = reg.mqttTls ? 'mqtts' : 'mqtt';
  const url = `${protocol}://${reg.mqttHost}:${reg.mqttPort}`;
  // A broker cluster: mqtt.js moves on to the next node each time a connection fails or drops, in the node's
  // order of its own (broker-order.ts).
  if (reg.brokers.length > 1) options.servers = brokerOrder(reg.nodeId, reg.brokers).map((b) => ({ host: b.host, port: b.port, protocol }));
  const client = mqtt.connect(url, options);
  // Each new connection presents the certificate the node holds then (mqtt.js builds it from client.options).
  if (deps.clientCertificate) {
    client.on('reconnect', () => {
      (client.options as typeof options).secureContext = tlsContext();
      setPassword(client.options);
    });
  }
  client.on('reconnect', () => {
    connection += 1;
    client.options.will = willOf(connection);
  });
  applyReconnectBackoff(client as unknown as Parameters<typeof applyReconnectBackoff>[0], deps.backoff);

  return new Promise<SessionEnd>((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    let ended = false;

    const end = (why: SessionEnd, graceful: boolean) => {
      if (ended) return;
      ended = true;
      for (const t of timers) clearInterval(t);
      deps.drainer.detach();
      deps.signal.removeEventListener('abort', onAbort);
      const close = () => client.end(false, {}, () => resolve(why));
      if (graceful && client.connected) {
        client.publish(statusTopic, Buffer.from(statusPayload('offline', new Date(), deps.version, sessionId, connection)), { qos: 1, retain: true }, close);
      } else {
        client.end(true, {}, () => resolve(why));
      }
    };
    const onAbort = () => end('stopped', true);
    deps.signal.addEventListener('abort', onAbort);

    let unreachableSince: Date | null = null;
    const outage = (reason: string) => {
      if (unreachableSince !== null) return;
      unreachableSince = new Date();
      logger.warn({ url, reason }, 'broker unreachable; reconnecting (said once until it answers)');
    };
    client.on('connect', () => {
      logger.info({ url, ...(unreachableSince ? { unreachableS: Math.round((Date.now() - unreachableSince.getTime()) / 1000) } : {}) }, 'connected to the broker');
      unreachableSince = null;
      client.publish(statusTopic, Buffer.from(statusPayload('online', new Date(), deps.version, sessionId, connection)), { qos: 1, retain: true });
      // The manager may have missed anything (it restarted, we were away): send the full set, then drain in order.
      deps.health.spoolDigest();
      deps.drainer.attach(client, reg.nodeId);
      // The session is persistent (clean: false), but a restarted broker may have forgotten it: subscribe every time.
      client.subscribe(commandsTopic, { qos: 1 }, (error) => {
        if (error) logger.warn({ err: error }, 'subscribing to commands failed');
      });
      // What a crash or a reboot interrupted first, then (in a reimage's boot) the install: both once per start.
      void deps.commands.recover().then(() => deps.commands.reportBootResult());
    });
    client.on('message', (topic, payload) => {
      if (topic === commandsTopic) void deps.commands.handle(payload);
    });
    client.on('error', (error: Error & { code?: number | string }) => {
      if (typeof error.code === 'number' && credentialRefused.has(error.code)) {
        logger.warn({ nodeId: reg.nodeId, code: error.code }, 'broker refused the node credential; registering again');
        end('credential-refused', false);
        return;
      }
      // A broker that is down or restarting: said once per outage, in one line, until it answers again.
      if (typeof error.code === 'string') outage(error.message);
      else logger.warn({ err: error }, 'MQTT error');
    });
    client.on('offline', () => outage('connection lost'));

    const sendTelemetry = async () => {
      if (!client.connected) return;
      try {
        const reading = await deps.backend.telemetry();
        client.publish(nodeTopic(reg.nodeId, 'telemetry'), Buffer.from(telemetryPayload(reading)), { qos: 0 });
      } catch (error) {
        logger.warn({ err: error }, 'telemetry reading failed');
      }
    };
    const sendInventory = async () => {
      try {
        const inventory = inventoryToProto(await deps.backend.inventory());
        await callAsNode(deps.calls, ({ client, metadata }) => client.updateInventory({ inventory }, { metadata: metadata(), deadlineMs: 15_000 }));
      } catch (error) {
        if (isDomainError(error) && error.code === 'unauthenticated') end('credential-refused', false);
        else logger.warn(failureFields(error), 'inventory update failed; will retry at the next interval');
      }
    };
    client.once('connect', () => void sendTelemetry());
    timers.push(setInterval(() => void sendTelemetry(), reg.telemetryIntervalMs));
    timers.push(setInterval(() => void sendInventory(), reg.inventoryIntervalMs));
  });
}
