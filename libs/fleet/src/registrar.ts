// Registration at power-on: bootstrap token in, node id and node credential out.
// The same machine always gets the same node id; ambiguity is a conflict.
import { DomainError, isAnonymous, matchIdentity, type Inventory, type NodeIdentity } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import type { FleetEvents } from './fleet-events.ts';
import { hashSecret, newSecret, tokenAccepted } from './secrets.ts';

export interface RegistrationInput {
  identity: NodeIdentity;
  inventory: Inventory;
  bootstrapToken: string;
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
  /** Bootstrap tokens accepted right now. */
  bootstrapTokens: () => readonly string[];
  newNodeId: () => string;
  now: () => Date;
}

export function createRegistrar(deps: RegistrarDeps) {
  const refuse = (code: 'unauthenticated' | 'invalid-argument', reason: string, peer: string): never => {
    deps.events.emit({ type: 'registration-refused', reason, peer, at: deps.now() });
    throw new DomainError(code, reason);
  };

  return async function register(input: RegistrationInput): Promise<RegistrationResult> {
    if (!tokenAccepted(input.bootstrapToken, deps.bootstrapTokens())) {
      refuse('unauthenticated', 'bootstrap token missing, unknown or expired', input.peer);
    }
    if (isAnonymous(input.identity)) {
      refuse('invalid-argument', 'identity has no system UUID, serial number or MAC address to recognise the machine by', input.peer);
    }
    const at = deps.now();
    const match = matchIdentity(input.identity, await deps.store.findIdentityCandidates(input.identity));
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
    deps.events.emit({ type: 'node-registered', nodeId, returning: match.kind === 'known', via: match.kind === 'known' ? match.via : 'new', at });
    return { nodeId, credential, returning: match.kind === 'known' };
  };
}

export type Register = ReturnType<typeof createRegistrar>;
