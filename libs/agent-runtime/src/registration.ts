// Registering at power-on: keep trying until the manager answers, with backoff,
// because a rack powers on before (or while) the manager is reachable.
import { setTimeout as sleep } from 'node:timers/promises';
import { Metadata } from '@grpc/grpc-js';
import { durationMs } from '@bufbuild/protobuf/wkt';
import type { Logger } from 'pino';
import { isDomainError, type BackoffPolicy } from '@metalfleet/domain';
import type { HardwareBackend } from '@metalfleet/hardware';
import { identityToProto, inventoryToProto } from '@metalfleet/transport';
import { readCredential, writeCredential } from './credential-file.ts';
import { forgetRegistrationNonce, registrationNonce } from './registration-nonce.ts';
import { openManagerConnection, type ManagerConnection } from './manager-connection.ts';
import { afterFailedTry } from './registration-retry.ts';
import { establishTrust } from './trust.ts';
import { createRetryLog } from './retry-log.ts';

export interface Registration {
  nodeId: string;
  credential: string;
  returning: boolean;
  /** The broker needs this node's client certificate (client-certificate.ts). */
  clientCertificates: boolean;
  /** The node kept the credential it had (a restart): a certificate saved for it still stands. */
  credentialKept: boolean;
  mqttHost: string;
  mqttPort: number;
  mqttTls: boolean;
  /** Every node of an external broker cluster, tried in turn; empty: mqttHost:mqttPort alone. */
  brokers: Array<{ host: string; port: number }>;
  telemetryIntervalMs: number;
  inventoryIntervalMs: number;
  healthIntervalMs: number | null;
  digestIntervalMs: number | null;
}

export interface RegisterDeps {
  managerAddress: string;
  /** Host the agent dialled for gRPC; the MQTT host when the manager names none. */
  managerHost: string;
  managerPort: number;
  backend: HardwareBackend;
  readBootstrapToken: () => Promise<string>;
  caFile: string;
  stateDir: string;
  version: string;
  logger: Logger;
  backoff: BackoffPolicy;
  signal: AbortSignal;
  /** [0, 1) for the jitter of retry delays (default Math.random). */
  random?: () => number;
}

export function credentialMetadata(nodeId: string, credential: string): Metadata {
  const metadata = new Metadata();
  metadata.set('x-metalfleet-node-id', nodeId);
  metadata.set('authorization', `Bearer ${credential}`);
  return metadata;
}

/**
 * How long a registration try waits for its answer. Long, because in a storm the answer is late
 * for want of CPU, not lost: the connection is up (a lost manager fails the try at once), and a
 * try given up is asked again, so the manager does it twice. 15 s was too short on a starved host.
 */
export const registrationDeadlineMs = 60_000;

/** How Node and grpc-js say the manager's certificate was refused. */
export const certificateRefused = /ERR_TLS_CERT|CERT_|certificate|self[- ]signed/i;

/** Resolves with a registration and the connection it used, or rejects when aborted or the request itself is invalid. */
export async function registerUntilAccepted(deps: RegisterDeps): Promise<{ registration: Registration; connection: ManagerConnection }> {
  let connection: ManagerConnection | null = null;
  // Tries in a row that the manager did not answer before their deadline.
  let unanswered = 0;
  // Quiet while the manager may still be starting; then each reason once (retry-log.ts).
  const retryLog = createRetryLog();
  for (let attempt = 0; ; attempt += 1) {
    deps.signal.throwIfAborted();
    try {
      const token = await deps.readBootstrapToken().catch((error: unknown) => {
        // A node with a saved credential can register without a token.
        if (readCredential(deps.stateDir)) return '';
        throw error;
      });
      if (!connection) {
        const trust = await establishTrust({ caFile: deps.caFile, stateDir: deps.stateDir, token, host: deps.managerHost, port: deps.managerPort });
        connection = openManagerConnection(deps.managerAddress, trust, deps.backoff);
      }
      const [identity, inventory] = await Promise.all([deps.backend.identity(), deps.backend.inventory()]);
      for (const failure of inventory.failures) deps.logger.warn({ failure }, 'inventory part failed; sending the rest');
      const saved = readCredential(deps.stateDir);
      // The same on every try of this registration (kept on disk before it is first sent): a try whose reply was lost is answered again.
      const nonce = token === '' ? '' : registrationNonce(deps.stateDir, token);
      const reply = await connection.client.register(
        { identity: identityToProto(identity), inventory: inventoryToProto(inventory), bootstrapToken: token, agentVersion: deps.version, registrationNonce: nonce },
        { deadlineMs: registrationDeadlineMs, ...(saved ? { metadata: credentialMetadata(saved.nodeId, saved.credential) } : {}) },
      );
      writeCredential(deps.stateDir, { nodeId: reply.nodeId, credential: reply.nodeCredential });
      forgetRegistrationNonce(deps.stateDir);
      const outage = retryLog.recovered();
      if (outage) deps.logger.info({ nodeId: reply.nodeId, tries: outage.failures + 1, afterS: Math.round(outage.afterMs / 1000) }, 'registered after failed tries');
      return {
        connection,
        registration: {
          nodeId: reply.nodeId,
          credential: reply.nodeCredential,
          returning: reply.returning,
          clientCertificates: reply.clientCertificates,
          credentialKept: saved !== null && saved.nodeId === reply.nodeId && saved.credential === reply.nodeCredential,
          mqttHost: reply.mqtt?.host || deps.managerHost,
          mqttPort: reply.mqtt?.port ?? 0,
          mqttTls: reply.mqtt?.tls ?? false,
          brokers: reply.brokers.map((b) => ({ host: b.host || deps.managerHost, port: b.port })),
          telemetryIntervalMs: reply.intervals?.telemetry ? durationMs(reply.intervals.telemetry) : 15_000,
          inventoryIntervalMs: reply.intervals?.inventory ? durationMs(reply.intervals.inventory) : 3_600_000,
          healthIntervalMs: reply.intervals?.health ? durationMs(reply.intervals.health) : null,
          digestIntervalMs: reply.intervals?.healthDigest ? durationMs(reply.intervals.healthDigest) : null,
        },
      };
    } catch (error) {
      if (isDomainError(error) && error.code === 'invalid-argument') throw error;
      const next = afterFailedTry(error, { attempt, unanswered }, deps.backoff, (deps.random ?? Math.random)());
      unanswered = next.unanswered;
      if (connection && next.reconnect) {
        connection.close();
        connection = null;
      }
      const { delayMs: delay, retryAfterMs } = next;
      const code = isDomainError(error) ? error.code : 'error';
      // Waiting for an operator is not a failure of this machine: say so, and keep asking (the token is not spent meanwhile).
      const why = code === 'pending-approval' ? 'registration waits for an operator to approve this machine (metalfleet conflicts approve); asking again'
        : code === 'conflict' ? 'registration refused: this machine\'s identity conflicts with a known node; an operator must resolve it; asking again'
          : retryAfterMs !== null ? 'the manager is busy (connect storm) and asked to come back later; retrying'
            : 'registration failed; retrying';
      const reason = error instanceof Error ? error.message : String(error);
      // Said at once: an operator must act (approval, conflict), or the manager's certificate is not the one trusted
      // (a wrong CA, a machine in the middle), which no wait mends.
      const urgent = code === 'pending-approval' || code === 'conflict' || certificateRefused.test(reason);
      const level = retryLog.failed(`${why}: ${reason}`, urgent);
      deps.logger[level]({ attempt: attempt + 1, retryInMs: delay, code, reason }, why);
      await sleep(delay, undefined, { signal: deps.signal });
    }
  }
}
