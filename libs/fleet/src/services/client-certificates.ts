// Nodes' client certificates: issued from the node's own request to the node
// proven by its credential, one live certificate per node (issuing one revokes
// the node's others), all of a node's revoked when it is given a new credential
// (a reimage, a re-registration: whoever copied the old one off the machine
// loses it), and a revocation list kept current for the brokers that check them.
import { DomainError } from '@metalfleet/domain';
import type { NodeCertificateStore } from '@metalfleet/store';
import { coalesced } from '../controllers/coalesced.ts';

export interface SignedCertificate {
  certPem: string;
  serial: string;
  notAfter: Date;
}

export interface ClientCertificatesDeps {
  store: NodeCertificateStore;
  /** Signs the node's request; rejects with a message for the node when the request is bad (`isBadRequest`). */
  sign: (requestPem: string, nodeId: string, now: Date, notAfter: Date) => Promise<SignedCertificate>;
  isBadRequest: (error: unknown) => boolean;
  signCrl: (revoked: ReadonlyArray<{ serial: string; revokedAt: Date }>, thisUpdate: Date, nextUpdate: Date) => Promise<string>;
  /** Where the current revocation list goes (a file a broker's `crlfile` names). */
  publishCrl: (pem: string) => void;
  now: () => Date;
  ttlMs: number;
}

/** How long a revocation list stays valid: a broker that reads an expired one refuses every node, so well past a manager outage. */
export const crlValidityMs = 7 * 24 * 3_600_000;

export function createClientCertificates(deps: ClientCertificatesDeps) {
  let crl: string | null = null;
  const refresh = coalesced(async () => {
    const now = deps.now();
    crl = await deps.signCrl(await deps.store.revokedNodeCertificates(now), now, new Date(now.getTime() + crlValidityMs));
    deps.publishCrl(crl);
  });

  return {
    async issue(nodeId: string, requestPem: string): Promise<SignedCertificate> {
      if (requestPem.trim() === '') throw new DomainError('invalid-argument', 'no certificate request');
      const now = deps.now();
      const signed = await deps.sign(requestPem, nodeId, now, new Date(now.getTime() + deps.ttlMs)).catch((error: unknown) => {
        throw deps.isBadRequest(error) ? new DomainError('invalid-argument', error instanceof Error ? error.message : String(error)) : error;
      });
      await deps.store.recordNodeCertificate({ serial: signed.serial, nodeId, issuedAt: now, notAfter: signed.notAfter });
      if ((await deps.store.revokeNodeCertificates(nodeId, now, signed.serial)) > 0) await refresh.run();
      return signed;
    },
    /** Revokes every certificate of the node; the revocation list is current when it resolves. */
    async revokeAll(nodeId: string): Promise<number> {
      const revoked = await deps.store.revokeNodeCertificates(nodeId, deps.now());
      if (revoked > 0) await refresh.run();
      return revoked;
    },
    /** Makes the revocation list again from the store (at start, and now and then: another replica may have revoked). */
    refreshCrl: () => refresh.run(),
    crl: () => crl,
  };
}

export type ClientCertificates = ReturnType<typeof createClientCertificates>;
