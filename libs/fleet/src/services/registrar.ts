// Registration at power-on: bootstrap token in, node id and node credential out.
// The same machine always gets the same node id, but only with proof
// (decideRegistration in libs/domain): a known node's credential, an install
// token bound to it and its reimage, or an operator's approval. A partial
// identity match is a conflict an operator resolves; a known node without its
// credential waits for approval; neither ever gets a credential.
//
// Idempotent: a token's use is spent in the node write's transaction and
// recorded against the machine's full identity, so the same registration
// retried after its reply was lost (same token, same identity) is answered
// again with the same node id and a fresh credential, without a second use --
// but only to the same registration nonce: a secret the agent made for this
// registration, stored here only as a hash. The token may be shared (a rack's,
// a tenant's, leaked) and serials and MACs are no secret: without the nonce,
// whoever knew them could take the node's credential until it came online.
// The retry closes as soon as the node shows its credential by any channel
// (node-credentials.ts: MQTT CONNECT, a gRPC call), and in any case an hour
// after the use (retryWindowMs): a captured registration (token, identity and
// nonce) replayed after that is refused, never answered with a new credential
// that would lock the real node out.
//
// The tries of one machine's registration run one after another, and a try
// whose caller gave up (its deadline passed while it waited in a storm) writes
// nothing: two overlapping first tries made two nodes of one machine, and a
// late try that wrote after the agent's next one was answered replaced the
// credential the agent had just saved.
import {
  DomainError, decideRegistration, identityKey, identityProblem, installPeerProblem, inventoryProblem, isAnonymous, matchIdentity, registrationLimits, textProblem, type BootstrapTokenRecord, type Inventory, type NodeIdentity, type RegistrationDecision,
} from '@metalfleet/domain';
import type { FleetStore, TokenUse } from '@metalfleet/store';
import type { FleetEvents } from '../events/fleet-events.ts';
import { createKeyedQueue } from './keyed-queue.ts';
import { recordReportedCabling } from './reported-cabling.ts';
import { hashSecret, newSecret, secretMatches } from '../secrets/secrets.ts';

export interface RegistrationInput {
  identity: NodeIdentity;
  inventory: Inventory;
  bootstrapToken: string;
  /** The secret nonce of this registration, the same on every try of it ('' from an older agent: never answered again). */
  registrationNonce: string;
  /** A node that registered before proves it with its node credential instead of a bootstrap token. */
  nodeCredential: { nodeId: string; secret: string } | null;
  agentVersion: string;
  peer: string;
  /** Aborted once the caller gave up on this try: nothing is written for it after that. */
  signal?: AbortSignal;
}

export interface RegistrationResult {
  nodeId: string;
  credential: string;
  returning: boolean;
}

/**
 * Who may serve (as a spare, in a tenant) once registered through a boot-endpoint
 * discovery token: `operator`: only after an operator admits it; `bmc-enrollment`:
 * also when it claims an enrollment made through its BMC; `open`: at once.
 */
export type DiscoveredAdmission = 'operator' | 'bmc-enrollment' | 'open';

/** A registration nonce, when sent: base64url of 32 random bytes is 43 characters; a short one is guessable, a long one is waste. */
export const registrationNonceLength = { min: 32, max: 128 };

/**
 * How long after a token use the same registration (same nonce) is answered again, unless the node showed its
 * credential before: long enough for a manager restart or a storm's backoff, short enough that a captured
 * registration is useless soon after. (An install token expires sooner still.)
 */
export const defaultRegistrationRetryWindowMs = 3600_000;

/** Open conflicts kept at most; beyond, new identities are refused without a record (each one still emits registration-refused). */
export const maxOpenConflicts = 1000;

export interface RegistrarDeps {
  store: FleetStore;
  events: FleetEvents;
  tokens: {
    /** Checks a presented token without using it (`usedUp`: one with no uses left passes too); throws `unauthenticated` with the reason. */
    check: (token: string, options?: { usedUp?: boolean }) => Promise<BootstrapTokenRecord>;
  };
  admitDiscovered: DiscoveredAdmission;
  newNodeId: () => string;
  now: () => Date;
  /** Default: defaultRegistrationRetryWindowMs. */
  retryWindowMs?: number;
}

export function createRegistrar(deps: RegistrarDeps) {
  const retryWindowMs = deps.retryWindowMs ?? defaultRegistrationRetryWindowMs;
  const refuse = (code: 'unauthenticated' | 'invalid-argument', reason: string, peer: string): never => {
    deps.events.emit({ type: 'registration-refused', reason, peer, at: deps.now() });
    throw new DomainError(code, reason);
  };

  async function credentialOwner(credential: RegistrationInput['nodeCredential']): Promise<string | null> {
    if (!credential) return null;
    const hash = await deps.store.credentialHash(credential.nodeId);
    return hash !== null && secretMatches(credential.secret, hash) ? credential.nodeId : null;
  }

  /** `retryHash`: with `retryOf`, the credential that node had when the use was found (its write re-checks both). */
  type CheckedToken = { record: BootstrapTokenRecord | null; error: string | null; retryOf: string | null; retryHash: string | null };
  // A use is this registration's own only with the nonce it was spent with (compared in constant time); to any
  // other caller it is as if there were none, so the answer says nothing about the node.
  const retryOfUse = async (tokenId: string, key: string, nonce: string) => {
    const use = nonce === '' ? null : await deps.store.findTokenUse(tokenId, key);
    const fresh = use !== null && deps.now().getTime() - use.at.getTime() < retryWindowMs;
    const retryOf = fresh && use.nonceHash && secretMatches(nonce, use.nonceHash) ? use.nodeId : null;
    return { retryOf, retryHash: retryOf === null ? null : await deps.store.credentialHash(retryOf) };
  };
  async function checkToken(token: string, key: string, nonce: string): Promise<CheckedToken> {
    if (token === '') return { record: null, error: 'bootstrap token missing', retryOf: null, retryHash: null };
    try {
      const record = await deps.tokens.check(token);
      return { record, error: null, ...(await retryOfUse(record.id, key, nonce)) };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      // Used up, maybe by this very machine whose reply was lost: only its own use, with the same token, the same
      // full identity and the same nonce, lets it through again (and spends nothing); to anyone else it stays used up.
      const spent = await deps.tokens.check(token, { usedUp: true }).catch(() => null);
      const retry = spent ? await retryOfUse(spent.id, key, nonce) : { retryOf: null, retryHash: null };
      return retry.retryOf !== null ? { record: spent, error: null, ...retry } : { record: null, error: reason, retryOf: null, retryHash: null };
    }
  }

  async function installInProgress(token: BootstrapTokenRecord | null): Promise<boolean> {
    if (token?.purpose !== 'install' || token.nodeId === null || token.commandId === null) return false;
    return (await deps.store.openOperationNodes()).some((n) => n.nodeId === token.nodeId && n.commandId === token.commandId
      && (n.progress.phase === 'rebooting' || n.progress.phase === 'installing'));
  }

  // What the caller is told about a conflict is the conflict id only: the known node's id and identifiers,
  // and how they differ from the claim, are an oracle for whoever replays one identifier. They stay in the
  // conflict record (API, dashboard) and the operators' log.
  async function recordConflict(input: RegistrationInput, decision: Extract<RegistrationDecision, { action: 'conflict' | 'pending-approval' }>): Promise<never> {
    const at = deps.now();
    const pending = decision.action === 'pending-approval';
    // Someone who holds a token can invent identities without end: the operator's list stays bounded.
    const open = await deps.store.countConflicts('open');
    if (open >= maxOpenConflicts && !(await deps.store.hasUnresolvedConflict(input.identity))) {
      return refuse('unauthenticated', `${open} identity conflicts already wait for an operator; this registration was refused without recording it`, input.peer);
    }
    const nodeIds = pending ? [decision.nodeId] : decision.nodeIds;
    const kind = pending ? 're-enrolment' : 'mismatch';
    const conflict = await deps.store.recordConflict({ at, identity: input.identity, nodeIds, reason: decision.reason, kind, peer: input.peer });
    if (conflict.status === 'rejected') {
      return refuse('unauthenticated', `identity conflict ${conflict.id} was rejected by an operator`, input.peer);
    }
    deps.events.emit({ type: 'identity-conflict', conflictId: conflict.id, kind, nodeIds, reason: `registration refused: ${kind === 'mismatch' ? 'identity conflict' : 're-enrolment waits for approval'} (conflict ${conflict.id})`, at });
    if (pending) {
      throw new DomainError('pending-approval', `re-enrolment of this machine waits for an operator's approval (conflict ${conflict.id}); try again after approval`, { conflictId: conflict.id });
    }
    throw new DomainError('conflict', `identity conflict ${conflict.id}: an operator must resolve it`, { conflictId: conflict.id });
  }

  /**
   * An install token is good only from the address its boot-script fetch came from: one read off the wire or out of
   * another machine's kernel command line registers nothing (a retry included). The reimage goes on; operators are told.
   */
  function refuseInstallFromElsewhere(token: BootstrapTokenRecord | null, peer: string): void {
    if (token?.purpose !== 'install' || token.nodeId === null || token.commandId === null) return;
    const problem = installPeerProblem(token.issuedTo, peer);
    if (problem === null) return;
    const at = deps.now();
    deps.events.emit({ type: 'install-refused', nodeId: token.nodeId, commandId: token.commandId, step: 'registration', peer, reason: problem, at });
    deps.events.emit({ type: 'registration-refused', reason: `install token ${token.id} of node ${token.nodeId}: ${problem}`, peer, at });
    throw new DomainError('unauthenticated', `install token ${token.id} is not good from this address`);
  }

  // One try at work and one waiting per machine: each holds an admission slot, and serials and MACs are no
  // secret, so a tenant sending one identity's registration many times at once would otherwise hold many slots
  // while one is worked on. The agent sends one try at a time; a third at once is refused as busy.
  const oneMachineAtATime = createKeyedQueue({
    maxPerKey: 2,
    busy: () => new DomainError('unavailable', 'another registration of this machine is in progress; retry later', { retryAfterMs: 2000 }),
  });

  return async function register(input: RegistrationInput): Promise<RegistrationResult> {
    // Checked before anything is looked up or recorded: a megabyte serial must not reach a conflict record.
    const invalid = identityProblem(input.identity) ?? inventoryProblem(input.inventory) ?? textProblem('agent version', input.agentVersion, registrationLimits.labelChars);
    if (invalid !== null) refuse('invalid-argument', invalid, input.peer);
    const nonce = input.registrationNonce;
    if (nonce !== '' && (nonce.length < registrationNonceLength.min || nonce.length > registrationNonceLength.max)) {
      refuse('invalid-argument', `registration nonce must be ${registrationNonceLength.min} to ${registrationNonceLength.max} characters (or none)`, input.peer);
    }
    if (isAnonymous(input.identity)) {
      refuse('invalid-argument', 'identity has no system UUID, serial number or MAC address to recognise the machine by', input.peer);
    }
    const key = identityKey(input.identity);
    return oneMachineAtATime(key, () => registerChecked(input, key));
  };

  async function registerChecked(input: RegistrationInput, key: string): Promise<RegistrationResult> {
    input.signal?.throwIfAborted();
    const nonce = input.registrationNonce;
    const match = matchIdentity(input.identity, await deps.store.findIdentityCandidates(input.identity));
    const token = await checkToken(input.bootstrapToken, key, nonce);
    refuseInstallFromElsewhere(token.record, input.peer);
    const approval = match.kind === 'new' ? null : await deps.store.findApproval(input.identity);
    const decision = decideRegistration(input.identity, match, {
      credentialOf: await credentialOwner(input.nodeCredential),
      token: token.record,
      tokenError: token.error,
      installInProgress: await installInProgress(token.record),
      approvedAs: approval?.nodeId ?? null,
      retryOf: token.retryOf,
    });

    if (decision.action === 'refuse') return refuse('unauthenticated', decision.reason, input.peer);
    if (decision.action === 'conflict' || decision.action === 'pending-approval') return recordConflict(input, decision);

    const at = deps.now();
    // Spent in the node write's transaction (the store refuses a use that is gone): two registrations racing for one
    // single-use token get one node, and a use is never spent for a node that was not written.
    // A retry spends nothing, and is written only while its use and the node's credential are as it found them.
    const retried = decision.action === 'returning' && decision.via === 'retry';
    const tokenUse: TokenUse | undefined = token.record && (decision.action === 'create' || decision.spendToken || retried)
      ? {
        tokenId: token.record.id, identityKey: key, nonceHash: nonce === '' ? null : hashSecret(nonce), unlimited: token.record.maxUses === null,
        ...(retried ? { retry: { credentialHash: token.retryHash } } : {}),
      } : undefined;
    if (decision.action === 'returning' && decision.via === 'approval' && !(approval && (await deps.store.takeApproval(approval.conflictId, at, input.peer)))) {
      return refuse('unauthenticated', 'the operator\'s approval was used or withdrawn meanwhile', input.peer);
    }
    // One install registration per reimage command: whoever registers second (after the real installer, or
    // before it) with another install token of that command is a conflict for an operator, and the reimage fails
    // rather than trust either machine. (Checked before the write: two racing at the same instant both pass.)
    if (decision.action === 'returning' && decision.via === 'install-token' && token.record?.commandId
      && (await deps.store.countUsedInstallTokens(token.record.commandId)) > 0) {
      const { commandId } = token.record;
      const conflict = await deps.store.recordConflict({
        at, identity: input.identity, nodeIds: [decision.nodeId], peer: input.peer,
        reason: `a second registration with an install token of reimage command ${commandId} of node ${decision.nodeId}, from ${input.peer}; the reimage is failed`,
      });
      deps.events.emit({ type: 'identity-conflict', conflictId: conflict.id, kind: 'mismatch', nodeIds: [decision.nodeId], reason: `registration refused: identity conflict (conflict ${conflict.id})`, at });
      deps.events.emit({ type: 'install-conflict', nodeId: decision.nodeId, commandId, conflictId: conflict.id, at });
      throw new DomainError('conflict', `identity conflict ${conflict.id}: an operator must resolve it`, { conflictId: conflict.id });
    }
    // A node that proved itself with its credential keeps it: rotated here, a reply lost on the way (a manager or
    // agent killed, a dropped connection) would leave the agent with a secret the manager no longer knows, and a
    // known node without its credential waits for an operator. Every other way in gets a fresh one.
    const keptCredential = decision.action === 'returning' && decision.via === 'credential' ? input.nodeCredential?.secret ?? null : null;
    const credential = keptCredential ?? newSecret();
    const nodeId = decision.action === 'returning' ? decision.nodeId : deps.newNodeId();
    // The last moment to give up: past it, the caller would never learn the credential written for it.
    input.signal?.throwIfAborted();
    const record = {
      id: nodeId,
      hostname: input.inventory.system.hostname,
      identity: input.identity,
      inventory: input.inventory,
      agentVersion: input.agentVersion,
      credentialHash: hashSecret(credential),
      at,
    };
    if (decision.action === 'returning') {
      await deps.store.updateRegistration(record, tokenUse);
    } else {
      await deps.store.createNode(record, tokenUse);
      if (decision.discovered && deps.admitDiscovered !== 'open') {
        await deps.store.setAdmission({ nodeId, state: 'pending', via: 'discovery', actor: `boot endpoint (${input.peer})`, at });
      }
    }
    const returning = decision.action === 'returning';
    // It proved it holds a credential: whatever token registered it before is spent for good.
    if (decision.action === 'returning' && decision.via === 'credential') await deps.store.settleTokenUses(nodeId);
    // Cabling: trusted only from an inventory sent while the machine runs the manager's image (a new machine's
    // registration, or a reimage's install token), never from the node's OS, which holds only its credential; and
    // not from a machine discovered through the boot endpoint until an operator admits it (anyone can get a
    // discovery token): its cabling is trusted from its first install image on.
    const awaitingAdmission = decision.action === 'create' && decision.discovered && deps.admitDiscovered !== 'open';
    // A retry is trusted only as an install-token one (a retried new machine's cabling was recorded by its first try).
    const viaInstallToken = decision.action === 'returning' && (decision.via === 'install-token' || (decision.via === 'retry' && token.record?.purpose === 'install'));
    // Without a BMC the manager never saw the node go down: the tenant, root on it, can fetch its install script and
    // register with that token from its own OS, LLDP and all. Its cabling stays a claim (an operator plans the link,
    // or a switch sees it); with a BMC the token exists only after the manager's own power cycle.
    const installSeenByManager = viaInstallToken && (await deps.store.getBmc(nodeId)) !== null;
    const fromManagerImage = (decision.action === 'create' && !awaitingAdmission) || installSeenByManager;
    await recordReportedCabling(deps.store, nodeId, input.inventory, input.identity.macs, fromManagerImage ? 'register-with-bootstrap-token' : 'register-with-node-credential', at);
    deps.events.emit({ type: 'node-registered', nodeId, returning, via: returning ? decision.via : decision.discovered ? 'discovery' : 'new', at });
    if (viaInstallToken && token.record?.commandId) {
      deps.events.emit({ type: 'install-registered', nodeId, commandId: token.record.commandId, at });
    }
    return { nodeId, credential, returning };
  }
}

export type Register = ReturnType<typeof createRegistrar>;
