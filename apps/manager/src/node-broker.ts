// The broker the nodes talk to: the embedded one (aedes, nodes checked by
// their credentials, or by their client certificates with --node-certificates), or an external one (--mqtt-url: Mosquitto, nodes checked
// by their client certificates), with each replica's session there and the
// takeover of a dead replica's session by the one doing the per-node work.
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import {
  connectExternalBroker, connectNatsBroker, createNodeBroker, issueManagerClientCertificate, type CertificateAuthority, type NodeBroker,
} from '@metalfleet/manager-transport';
import type { ClientCertificates, CommandWithdrawals, NodeCredentials } from '@metalfleet/fleet';
import type { LeaseStore } from '@metalfleet/store';
import type { ManagerConfig } from './config.ts';
import type { NatsOperator } from './nats.ts';

/** The common name of the manager's client certificate on an external broker: its ACL grants it the manager's topics (deploy/ha). */
const managerBrokerIdentity = 'metalfleet-manager';

/**
 * A replica's client id on an external broker: one session each, which another replica can take over when it dies.
 * Keyed with the CA's private key, which the replicas share and no node has: Mosquitto does not tie a client id to
 * its certificate, and a tenant who could guess a replica's id (its host name and data directory) could take its
 * session over with its own node certificate.
 */
function brokerClientId(replicaId: string, key: string): string {
  return `mf-manager-${createHmac('sha256', key).update(replicaId).digest('hex').slice(0, 24)}`;
}

export interface NodeBrokerDeps {
  /** The manager's CA (--tls); an external broker needs it. */
  ca: CertificateAuthority | null;
  replicaId: string;
  now: () => Date;
  logger: Logger;
  withdrawals: CommandWithdrawals;
  nodeCredentials: NodeCredentials;
  /** Nodes' client certificates (--node-certificates): the embedded broker takes a node's certificate instead of its credential. */
  nodeCertificates: ClientCertificates | null;
  /** Set when the external broker is a NATS cluster (--nats-url). */
  nats: NatsOperator | null;
}

export async function openNodeBroker(config: ManagerConfig, deps: NodeBrokerDeps): Promise<NodeBroker> {
  const { ca, logger } = deps;
  const managerCertificate = async (authority: CertificateAuthority) =>
    issueManagerClientCertificate(authority, managerBrokerIdentity, deps.now(), new Date(deps.now().getTime() + 397 * 86_400_000));
  if (deps.nats && ca) {
    const { accounts } = deps.nats;
    return connectNatsBroker({
      natsUrls: config.natsUrl,
      mqttUrls: config.mqttUrl,
      credentials: await accounts.managerCredentials(),
      commandToken: () => accounts.commandToken(new Date(deps.now().getTime() + 86_400_000)),
      maxPayloadBytes: config.maxPayloadBytes,
      tls: { caPem: ca.certPem, ...(await managerCertificate(ca)) },
      clientId: brokerClientId(deps.replicaId, ca.keyPem),
      onEvent: (event) => logger.warn({ event }, `nats ${event.type}`),
      onConnection: ({ connected, url, reason }) => logger[connected ? 'info' : 'warn']({ url }, connected ? 'connected to the external broker' : `external broker: ${reason}`),
    });
  }
  if (config.mqttUrl.length > 0 && ca) {
    return connectExternalBroker({
      urls: config.mqttUrl,
      tls: { caPem: ca.certPem, ...(await managerCertificate(ca)) },
      // One session per replica: what the broker keeps for it while it restarts is its own.
      clientId: brokerClientId(deps.replicaId, ca.keyPem),
      onEvent: (event) => logger.warn({ event }, `mqtt ${event.type}`),
      onConnection: ({ connected, url, reason }) => logger[connected ? 'info' : 'warn']({ url }, connected ? 'connected to the external broker' : `external broker: ${reason}`),
    });
  }
  return createNodeBroker({
    mayForward: deps.withdrawals.mayForward,
    maxPayloadBytes: config.maxPayloadBytes,
    maxConnectionsPerAddress: config.mqttMaxConnectionsPerAddress,
    maxUnauthenticatedPacketBytes: config.mqttMaxUnauthenticatedPacketBytes,
    maxUnauthenticatedConnections: config.mqttMaxUnauthenticatedConnections,
    maxConcurrentConnects: config.mqttMaxConcurrentConnects,
    maxConnectWaitMs: config.connectWaitS * 1000,
    authenticateNode: deps.nodeCredentials.check,
    ...(deps.nodeCertificates ? { authenticateCertificate: deps.nodeCertificates.nodeOf } : {}),
    // Connections shed in a storm are counted (metalfleet_mqtt_connections_refused_total), not logged one by one.
    onEvent: (event) => (event.type === 'connection-shed' ? undefined : logger.warn({ event }, `mqtt ${event.type}`)),
  });
}

/**
 * What the broker kept for a replica that died (queued, or delivered and never acknowledged) is taken over by the
 * replica doing the per-node work, every lease period: it would be lost with that replica's session otherwise.
 */
export function startSessionAdoption(deps: {
  broker: NodeBroker; store: Pick<LeaseStore, 'listLeases'>; replicaId: string; ca: CertificateAuthority; runsHere: () => boolean;
  intervalMs: number; logger: Logger; onError: (error: unknown) => void;
}): { stop: () => void } {
  const { broker } = deps;
  const adopted = new Set<string>();
  const adoptDead = async () => {
    for (const lease of await deps.store.listLeases()) {
      if (!lease.name.startsWith('replica/') || lease.holder === deps.replicaId) continue;
      if (lease.live) {
        adopted.delete(lease.holder);
        continue;
      }
      if (adopted.has(lease.holder) || !broker.adoptSession) continue;
      // Marked once taken over, not before: one that failed (the broker away) is tried again at the next round.
      const messages = await broker.adoptSession(brokerClientId(lease.holder, deps.ca.keyPem));
      adopted.add(lease.holder);
      deps.logger.warn({ replica: lease.holder, messages }, 'took over the broker session of a replica whose lease expired, and what the broker had kept for it');
    }
  };
  let adopting: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (!deps.runsHere() || adopting) return;
    adopting = adoptDead().catch(deps.onError).finally(() => (adopting = null));
  }, deps.intervalMs);
  return { stop: () => clearInterval(timer) };
}
