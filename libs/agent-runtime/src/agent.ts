// The agent's life: register, keep a session, register again if the manager
// forgets the node, until stopped.
import { mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { backoffDelay, finding, isDomainError, type BackoffPolicy, type BootParameters, type ConditionFinding } from '@metalfleet/domain';
import { acceptanceFacts, type HardwareBackend } from '@metalfleet/hardware';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { ClaimVerdict } from '@metalfleet/proto';
import { CommandExecutor, type ClaimReply } from './command-executor.ts';
import { HealthMonitor } from './health-monitor.ts';
import { verifyingInstaller, type InstallImage } from './image-installer.ts';
import { downloadRetryFor } from './resumable-download.ts';
import type { MachineControl } from './machine-control.ts';
import { runMqttSession } from './mqtt-session.ts';
import { registerUntilAccepted, type Registration } from './registration.ts';
import { issueClientCertificate, keepClientCertificate, savedClientCertificate, type ClientCertificate } from './client-certificate.ts';
import { callAsNode, createNodeCalls, type NodeCalls } from './node-calls.ts';
import type { Spool } from './spool.ts';
import type { SpoolRecovery } from './spool-open.ts';
import { SpoolDrainer } from './spool-drainer.ts';
import { failureFields } from './log-fields.ts';

export interface AgentOptions {
  /** gRPC address of the manager, host:port. */
  managerAddress: string;
  backend: HardwareBackend;
  readBootstrapToken: () => Promise<string>;
  version: string;
  logger: Logger;
  mqttProtocolVersion: 4 | 5;
  backoff: BackoffPolicy;
  /** The node's own directory: saved credential, pinned manager CA. */
  stateDir: string;
  /** Where health events and command results wait for the broker (this node's namespace). */
  spool: Spool;
  /** What was wrong with the spool file at this start (it was replaced): reported as a warning condition while this process runs. */
  spoolLost?: SpoolRecovery | null;
  /** A CA certificate to trust instead of the one pinned by the bootstrap token. */
  caFile: string;
  /** Until the manager says otherwise at registration. */
  healthIntervalMs: number;
  digestIntervalMs: number;
  /** Reboots and GPU resets for commands. */
  machine: MachineControl;
  /** The metalfleet.* words this boot was started with (kernel command line). */
  boot: BootParameters;
  /** Installs a reimage's root image (default: download and hash it, as simulated machines do). */
  installImage?: InstallImage;
}

/** Runs `work` now and every `ms`; returns a function that changes the period. */
function every(ms: number, work: () => void): { reschedule: (next: number) => void; stop: () => void } {
  let timer = setInterval(work, ms);
  let period = ms;
  work();
  return {
    reschedule(next) {
      if (next === period) return;
      clearInterval(timer);
      period = next;
      timer = setInterval(work, next);
    },
    stop: () => clearInterval(timer),
  };
}

/** The condition that tells the manager this agent's spool was lost at its start (and with it undelivered reports). */
export function spoolLostFinding(lost: SpoolRecovery): ConditionFinding {
  const what = lost.quarantinedAs ? `was corrupt (${lost.detail}) and was moved to ${lost.quarantinedAs}` : `was ${lost.reason} (${lost.detail})`;
  return finding('agent', `agent-spool-${lost.reason}`, 'warning', 'none',
    `the agent's spool ${what} at ${lost.at.toISOString()}; a new one was made: reports not yet delivered were lost, and reboots and GPU resets the manager says this node took before are not run again`);
}

export function splitAddress(address: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(address);
  if (bracketed?.[1] && bracketed[2]) return { host: bracketed[1], port: Number(bracketed[2]) };
  const colon = address.lastIndexOf(':');
  return colon > 0 ? { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) } : { host: address, port: 7471 };
}

const verdicts: Partial<Record<ClaimVerdict, ClaimReply['verdict']>> = {
  [ClaimVerdict.RUN]: 'run', [ClaimVerdict.CLAIMED_BEFORE]: 'claimed-before', [ClaimVerdict.WITHDRAWN]: 'withdrawn', [ClaimVerdict.UNKNOWN]: 'unknown',
};

/** AgentService.ClaimCommand, as the executor takes it; rejects when it cannot be asked or answers nothing it knows. */
async function claimFrom(calls: NodeCalls | null, commandId: string): Promise<ClaimReply> {
  if (!calls) throw new Error('not registered with a manager yet');
  const reply = await callAsNode(calls, ({ client, metadata }) => client.claimCommand({ commandId }, { metadata: metadata(), deadlineMs: 10_000 }));
  const verdict = verdicts[reply.verdict];
  if (!verdict) throw new Error(`claim answered with no verdict this agent knows (${reply.verdict})`);
  return { verdict, reason: reply.reason, managerTime: reply.managerTime ? timestampDate(reply.managerTime) : null };
}

/**
 * The node's first certificate of a registration, asked until the manager gives it; null when the agent stops first.
 * After a restart with its credential, the one saved with it, unless `askAnew` (the broker refused the node: its
 * certificate may have been revoked); then the saved one only if the manager will not give another so soon.
 */
async function obtainCertificate(
  calls: NodeCalls, registration: Registration, stateDir: string, logger: Logger, backoff: BackoffPolicy, signal: AbortSignal, askAnew: boolean,
): Promise<ClientCertificate | null> {
  const saved = () => (registration.credentialKept ? savedClientCertificate(stateDir, registration.nodeId) : null);
  const standing = askAnew ? null : saved();
  if (standing) {
    logger.info({ notAfter: standing.notAfter.toISOString() }, 'client certificate from the last run still stands');
    return standing;
  }
  for (let attempt = 0; !signal.aborted; attempt += 1) {
    try {
      const certificate = await issueClientCertificate(calls.byCredential(), stateDir);
      logger.info({ notAfter: certificate.notAfter.toISOString() }, 'client certificate issued');
      return certificate;
    } catch (error) {
      // Refused so soon after the last one: that one is not revoked (revoked ones do not count), so it serves.
      const kept = isDomainError(error) && error.code === 'unavailable' ? saved() : null;
      if (kept) {
        logger.info({ notAfter: kept.notAfter.toISOString() }, 'the manager gives no new certificate so soon; the saved one still stands');
        return kept;
      }
      const delayMs = backoffDelay(attempt, backoff, Math.random());
      logger.warn({ ...failureFields(error), retryInMs: delayMs }, 'could not get a client certificate; asking again');
      await sleep(delayMs, undefined, { signal }).catch(() => undefined);
    }
  }
  return null;
}

export async function runAgent(options: AgentOptions, signal: AbortSignal): Promise<void> {
  const logger = options.logger.child({ hardware: options.backend.label });
  mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
  await options.backend.start((error) => logger.warn({ err: error }, 'kernel log follower stopped'));
  const { spool } = options;
  const { host, port } = splitAddress(options.managerAddress);
  let connection: { close: () => void } | null = null;
  const drainer = new SpoolDrainer(spool, logger);
  const health = new HealthMonitor({
    backend: options.backend, spool, logger, onSpooled: () => drainer.kick(), agentFindings: options.spoolLost ? [spoolLostFinding(options.spoolLost)] : [],
  });
  // Claims go to the manager this agent is registered with, as the node of that registration.
  let calls: NodeCalls | null = null;
  const commands = new CommandExecutor({
    spool, machine: options.machine, boot: options.boot, logger, onSpooled: () => drainer.kick(), installImage: options.installImage ?? verifyingInstaller(signal, downloadRetryFor(options.boot.installWindowS)),
    claim: (commandId) => claimFrom(calls, commandId), signal,
    acceptance: async (args) => acceptanceFacts(await options.backend.acceptanceOutputs(args)),
  });
  const evaluate = () => void health.evaluate().catch((error: unknown) => logger.warn({ err: error }, 'health evaluation failed'));
  const healthTimer = every(options.healthIntervalMs, evaluate);
  // An XID in the kernel log is evaluated at once (after a short pause that gathers a burst of lines), not at the next period.
  let soon: NodeJS.Timeout | null = null;
  const offKernel = options.backend.onKernelEvents(() => {
    soon ??= setTimeout(() => {
      soon = null;
      evaluate();
    }, 100);
  });
  const digestTimer = every(options.digestIntervalMs, () => health.spoolDigest());
  const kickTimer = setInterval(() => drainer.kick(), 5000);
  // The last session ended with the node refused while it showed a certificate.
  let refused = false;
  try {
    while (!signal.aborted) {
      let registered;
      try {
        registered = await registerUntilAccepted({
          managerAddress: options.managerAddress, managerHost: host, managerPort: port, backend: options.backend, readBootstrapToken: options.readBootstrapToken,
          caFile: options.caFile, stateDir: options.stateDir, version: options.version, logger, backoff: options.backoff, signal,
        });
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
      const { registration } = registered;
      connection?.close();
      calls?.close();
      connection = registered.connection;
      calls = createNodeCalls({ address: options.managerAddress, registration, connection: registered.connection, backoff: options.backoff });
      if (registration.healthIntervalMs) healthTimer.reschedule(registration.healthIntervalMs);
      if (registration.digestIntervalMs) digestTimer.reschedule(registration.digestIntervalMs);
      const nodeLogger = logger.child({ nodeId: registration.nodeId });
      nodeLogger.info({ returning: registration.returning }, registration.returning ? 'registered again (known machine)' : 'registered as a new node');
      // Held for this registration's session: a new registration gets a new key and certificate.
      const session = new AbortController();
      const stopSession = () => session.abort();
      signal.addEventListener('abort', stopSession, { once: true });
      let certificate: ClientCertificate | null = null;
      const nodeCalls = calls;
      if (registration.clientCertificates) {
        certificate = await obtainCertificate(nodeCalls, registration, options.stateDir, nodeLogger, options.backoff, signal, refused);
        if (!certificate) return;
        nodeCalls.useCertificate(certificate);
        void keepClientCertificate(certificate, {
          calls: nodeCalls, stateDir: options.stateDir, logger: nodeLogger, signal: session.signal,
          onRenewed: (renewed) => (certificate = renewed),
        });
      }
      const end = await runMqttSession({
        registration, calls: nodeCalls, caPem: registered.connection.trust.caPem, backend: options.backend, version: options.version, logger: nodeLogger,
        mqttProtocolVersion: options.mqttProtocolVersion, signal, drainer, health, commands, backoff: options.backoff,
        clientCertificate: () => certificate,
      });
      session.abort();
      signal.removeEventListener('abort', stopSession);
      if (end === 'stopped') return;
      // Refused by the broker or the manager: the next registration asks for a new certificate (this one may be revoked).
      refused = certificate !== null;
    }
  } finally {
    healthTimer.stop();
    offKernel();
    if (soon) clearTimeout(soon);
    digestTimer.stop();
    clearInterval(kickTimer);
    options.backend.stop();
    connection?.close();
    calls?.close();
  }
}
