// A node's credential, checked the same way on every channel (MQTT CONNECT, gRPC calls).
//
// The first time a node shows the credential it was given, by any channel, the
// token uses that registered it are settled (registrar.ts): from then on the
// same token, identity and registration nonce are a replay, not a lost reply
// answered again. Left open until the node next registered with its
// credential, a captured registration replayed while the node was already
// online got a new credential for it and locked the real node out.
//
// Settled once per node and credential per manager run: the broker checks a
// credential on every CONNECT, and a store write each time is waste.
import type { FleetStore } from '@metalfleet/store';
import { secretMatches } from '../secrets/secrets.ts';

export interface NodeCredentials {
  /** Whether this is the node's credential; a true answer comes only after its token uses are settled. */
  check(nodeId: string, secret: string): Promise<boolean>;
}

export function createNodeCredentials(store: Pick<FleetStore, 'credentialHash' | 'settleTokenUses'>): NodeCredentials {
  // Node id → the credential hash whose uses were settled in this run. One entry a node: bounded by the fleet.
  const settled = new Map<string, string>();
  return {
    async check(nodeId, secret) {
      const hash = await store.credentialHash(nodeId);
      if (hash === null || !secretMatches(secret, hash)) return false;
      if (settled.get(nodeId) !== hash) {
        // Only while this is still its credential: a registration written since gave it another, whose use stays open.
        await store.settleTokenUses(nodeId, hash);
        settled.set(nodeId, hash);
      }
      return true;
    },
  };
}
