// gRPC AgentService handlers: the adapter between wire messages and the fleet.
import type { Metadata } from '@grpc/grpc-js';
import { durationFromMs, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { DomainError, inventoryProblem, registrationLimits, textProblem } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import { identityFromProto, inventoryFromProto, type CallContext, type ServiceHandlers } from '@metalfleet/transport';
import { ClaimVerdict, type AgentService } from '@metalfleet/proto';
import type { ClaimAnswer } from '../controllers/command-outbox.ts';
import type { Register } from '../services/registrar.ts';
import { createRegistrationAdmission, defaultRegistrationAdmission, type RegistrationAdmission } from '../services/registration-admission.ts';
import { recordReportedCabling } from '../services/reported-cabling.ts';
import { createNodeCredentials, type NodeCredentials } from '../services/node-credentials.ts';
import type { ClientCertificates } from '../services/client-certificates.ts';

export interface AgentServiceConfig {
  /** Where nodes connect for MQTT, the first tried first; an empty host: the host the agent dialled for gRPC. */
  brokers: ReadonlyArray<{ host: string; port: number; tls: boolean }>;
  telemetryIntervalMs: number;
  heartbeatIntervalMs: number;
  inventoryIntervalMs: number;
  healthIntervalMs: number;
  healthDigestIntervalMs: number;
}

/** Metadata keys a registered node authenticates its calls with. */
export const nodeIdKey = 'x-metalfleet-node-id';

function metadataValue(metadata: Metadata, key: string): string {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : '';
}

/**
 * The node a call comes from: named by the client certificate of its connection (--node-certificates; one that is
 * revoked or not this manager's is refused, whatever else the call carries), or else proven by its credential
 * (which settles its registration: node-credentials.ts). UNAUTHENTICATED otherwise.
 */
export async function authenticateNodeCall(
  credentials: NodeCredentials, certificates: ClientCertificates | null, context: Pick<CallContext, 'metadata' | 'peerCertificate'>,
): Promise<string> {
  const named = metadataValue(context.metadata, nodeIdKey);
  if (certificates && context.peerCertificate) {
    const nodeId = await certificates.nodeOf(context.peerCertificate);
    if (nodeId === null) throw new DomainError('unauthenticated', 'client certificate revoked, expired or not issued by this manager; register again');
    if (named !== '' && named !== nodeId) throw new DomainError('unauthenticated', `the call names node ${named}, its client certificate node ${nodeId}`);
    return nodeId;
  }
  const bearer = metadataValue(context.metadata, 'authorization').replace(/^Bearer\s+/i, '');
  if (!named || !bearer || !(await credentials.check(named, bearer))) {
    throw new DomainError('unauthenticated', 'node credential missing or invalid; register again');
  }
  return named;
}

const verdicts: Record<ClaimAnswer['verdict'], ClaimVerdict> = {
  run: ClaimVerdict.RUN, 'claimed-before': ClaimVerdict.CLAIMED_BEFORE, withdrawn: ClaimVerdict.WITHDRAWN, unknown: ClaimVerdict.UNKNOWN,
};

export interface AgentServiceDeps {
  register: Register;
  store: FleetStore;
  config: AgentServiceConfig;
  /** The outbox's claim: a node about to run one of its commands. */
  claimCommand: (nodeId: string, commandId: string) => Promise<ClaimAnswer>;
  now?: () => Date;
  /** Bounds concurrent registrations (default: 64 at once, refused ones told to retry after 2 s). */
  admission?: RegistrationAdmission;
  /** Checks a node's credential (default: against the store; the manager shares one with the broker). */
  credentials?: NodeCredentials;
  /** Nodes' client certificates, when the broker needs them (default: none issued). */
  certificates?: ClientCertificates | null;
  /** Why the broker would not keep nodes' reports yet (NodeBroker.reportsWaiting); registration waits for it. */
  reportsWaiting?: () => string | null;
}

/** How soon a node refused because the broker is not ready for its reports asks again. */
const reportsWaitingRetryMs = 2000;

/** The address of a gRPC peer (`ipv4:10.0.0.7:51234`, `ipv6:[fd00::7]:51234`), without its port. */
export function peerAddress(peer: string): string {
  const withoutScheme = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\]/.exec(withoutScheme);
  return bracketed ? (bracketed[1] as string) : withoutScheme.replace(/:\d+$/, '');
}

export function agentServiceHandlers(deps: AgentServiceDeps): ServiceHandlers<typeof AgentService> {
  const { config } = deps;
  const now = deps.now ?? (() => new Date());
  const admission = deps.admission ?? createRegistrationAdmission(defaultRegistrationAdmission);
  const credentials = deps.credentials ?? createNodeCredentials(deps.store);
  const certificates = deps.certificates ?? null;
  return {
    async register(request, context) {
      // Before anything is stored or issued: a node told where the broker is would send its first reports at once.
      const waiting = deps.reportsWaiting?.() ?? null;
      if (waiting !== null) throw new DomainError('unavailable', `this manager cannot keep nodes' reports yet (${waiting}); try again shortly`, { retryAfterMs: reportsWaitingRetryMs });
      const nodeId = metadataValue(context.metadata, nodeIdKey);
      const bearer = metadataValue(context.metadata, 'authorization').replace(/^Bearer\s+/i, '');
      const result = await admission.run(() => deps.register({
        identity: identityFromProto(request.identity),
        inventory: inventoryFromProto(request.inventory),
        bootstrapToken: request.bootstrapToken,
        registrationNonce: request.registrationNonce,
        nodeCredential: nodeId && bearer ? { nodeId, secret: bearer } : null,
        agentVersion: request.agentVersion,
        peer: context.peer,
        signal: context.signal,
      }), peerAddress(context.peer));
      // A new credential: whoever had the node before (a tenant, root on it) may have copied its certificate off it.
      if (certificates && result.credential !== bearer) await certificates.revokeAll(result.nodeId);
      return {
        nodeId: result.nodeId,
        nodeCredential: result.credential,
        returning: result.returning,
        clientCertificates: certificates !== null,
        mqtt: { ...config.brokers[0], username: result.nodeId },
        brokers: config.brokers.length > 1 ? config.brokers.map((b) => ({ ...b, username: result.nodeId })) : [],
        intervals: {
          telemetry: durationFromMs(config.telemetryIntervalMs),
          heartbeat: durationFromMs(config.heartbeatIntervalMs),
          inventory: durationFromMs(config.inventoryIntervalMs),
          health: durationFromMs(config.healthIntervalMs),
          healthDigest: durationFromMs(config.healthDigestIntervalMs),
        },
      };
    },

    async updateInventory(request, context) {
      const nodeId = await authenticateNodeCall(credentials, certificates, context);
      const inventory = inventoryFromProto(request.inventory);
      // The same limits as at registration: the node's OS is the tenant's, and it may send anything.
      const invalid = inventoryProblem(inventory);
      if (invalid !== null) throw new DomainError('invalid-argument', invalid);
      await deps.store.updateInventory(nodeId, inventory);
      // From the node's running OS (the tenant's, once it is active): a claim on ports, never cabling.
      const ownMacs = (await deps.store.getNode(nodeId))?.identity.macs ?? [];
      await recordReportedCabling(deps.store, nodeId, inventory, ownMacs, 'inventory-update', now());
      return {};
    },

    async claimCommand(request, context) {
      const nodeId = await authenticateNodeCall(credentials, certificates, context);
      if (request.commandId === '') throw new DomainError('invalid-argument', 'claim without a command id');
      const invalid = textProblem('command id', request.commandId, registrationLimits.labelChars);
      if (invalid !== null) throw new DomainError('invalid-argument', invalid);
      const answer = await deps.claimCommand(nodeId, request.commandId);
      // The time after the decision: a deadline the agent compares with it is judged no earlier than the manager judged it.
      return { verdict: verdicts[answer.verdict], reason: answer.verdict === 'run' ? '' : answer.reason, managerTime: timestampFromDate(now()) };
    },

    async issueCertificate(request, context) {
      const nodeId = await authenticateNodeCall(credentials, certificates, context);
      if (!certificates) throw new DomainError('conflict', 'this manager issues no client certificates (--node-certificates is off)');
      const signed = await certificates.issue(nodeId, request.certificateRequest);
      return { certificate: signed.certPem, notAfter: timestampFromDate(signed.notAfter), brokerToken: signed.brokerToken };
    },
  };
}
