// Registration at power-on: bootstrap token in, node id and node credential out.
// The same machine always gets the same node id; ambiguity is a conflict.
import { DomainError, isAnonymous, matchIdentity, type Inventory, type NodeIdentity } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import type { FleetEvents } from './fleet-events.ts';
import { recordReportedCabling } from './reported-cabling.ts';
import { hashSecret, newSecret, secretMatches } from './secrets.ts';

export interface RegistrationInput {
  identity: NodeIdentity;
  inventory: Inventory;
  bootstrapToken: string;
  /** A node that registered before proves it with its node credential instead of a bootstrap token. */
  nodeCredential: { nodeId: string; secret: string } | null;
  agentVersion: string;
  peer: string;
}

export interface RegistrationResult {
  nodeId: string;
  credential: string;
  returning: boolean;
}

export interface RegistrarDeps {
  store: FleetStore;
  events: FleetEvents;
  /** Checks and counts a bootstrap token; throws `unauthenticated` with the reason. */
  consumeBootstrapToken: (token: string) => Promise<unknown>;
  newNodeId: () => string;
  now: () => Date;
}

export function createRegistrar(deps: RegistrarDeps) {
  const refuse = (code: 'unauthenticated' | 'invalid-argument', reason: string, peer: string): never => {
    deps.events.emit({ type: 'registration-refused', reason, peer, at: deps.now() });
    throw new DomainError(code, reason);
  };

  async function credentialValid(credential: RegistrationInput['nodeCredential']): Promise<boolean> {
    if (!credential) return false;
    const hash = await deps.store.credentialHash(credential.nodeId);
    return hash !== null && secretMatches(credential.secret, hash);
  }

  return async function register(input: RegistrationInput): Promise<RegistrationResult> {
    if (isAnonymous(input.identity)) {
      refuse('invalid-argument', 'identity has no system UUID, serial number or MAC address to recognise the machine by', input.peer);
    }
    const at = deps.now();
    const match = matchIdentity(input.identity, await deps.store.findIdentityCandidates(input.identity));
    // A known node with its own valid credential re-registers without spending a bootstrap token.
    const vouched = match.kind === 'known' && (await credentialValid(input.nodeCredential)) && input.nodeCredential?.nodeId === match.nodeId;
    if (!vouched) {
      try {
        await deps.consumeBootstrapToken(input.bootstrapToken);
      } catch (error) {
        deps.events.emit({ type: 'registration-refused', reason: error instanceof Error ? error.message : String(error), peer: input.peer, at });
        throw error;
      }
    }
    if (match.kind === 'conflict') {
      await deps.store.recordConflict({ at, identity: input.identity, nodeIds: match.nodeIds, reason: match.reason });
      deps.events.emit({ type: 'identity-conflict', nodeIds: match.nodeIds, reason: match.reason, at });
      throw new DomainError('conflict', `identity conflict: ${match.reason}; an operator must resolve it`, { nodeIds: match.nodeIds });
    }
    const credential = newSecret();
    const nodeId = match.kind === 'known' ? match.nodeId : deps.newNodeId();
    const record = {
      id: nodeId,
      hostname: input.inventory.system.hostname,
      identity: input.identity,
      inventory: input.inventory,
      agentVersion: input.agentVersion,
      credentialHash: hashSecret(credential),
      at,
    };
    if (match.kind === 'known') await deps.store.updateRegistration(record);
    else await deps.store.createNode(record);
    // Cabling: trusted only from an inventory sent with a manager-issued token (the manager's image), never with the node credential alone.
    await recordReportedCabling(deps.store, nodeId, input.inventory, vouched ? 'register-with-node-credential' : 'register-with-bootstrap-token', at);
    deps.events.emit({ type: 'node-registered', nodeId, returning: match.kind === 'known', via: match.kind === 'known' ? match.via : 'new', at });
    return { nodeId, credential, returning: match.kind === 'known' };
  };
}

export type Register = ReturnType<typeof createRegistrar>;
