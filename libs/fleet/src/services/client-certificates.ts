// Nodes' client certificates: issued from the node's own request to the node
// proven by its credential, at most one per tenth of their lifetime (at least
// a minute, or half a lifetime shorter than two) while the node's certificates stand, all of a node's revoked when
// it is given a new credential (a reimage, a re-registration: whoever copied
// the old one off the machine loses it) or by an operator, and a revocation
// list kept current for the brokers that check them. A renewal does not revoke
// the certificate before it: it expires on its own, and the list stays as
// long as the revocations (a node asking in a loop grew it by one each time).
import { DomainError } from '@metalfleet/domain';
import type { NodeCertificateStore } from '@metalfleet/store';
import { coalesced } from '../controllers/coalesced.ts';

export interface SignedCertificate {
  certPem: string;
  serial: string;
  notAfter: Date;
  /** The node's password on a broker that takes one beside the certificate (NATS: a user JWT of the same lifetime); '' otherwise. */
  brokerToken: string;
  /** The broker's name for that token's user (NATS: its public key), by which it is revoked; '' where none. */
  brokerUser: string;
}

export interface ClientCertificatesDeps {
  store: NodeCertificateStore;
  /** Signs the node's request; rejects with a message for the node when the request is bad (`isBadRequest`). */
  sign: (requestPem: string, nodeId: string, now: Date, notAfter: Date) => Promise<SignedCertificate>;
  isBadRequest: (error: unknown) => boolean;
  signCrl: (revoked: ReadonlyArray<{ serial: string; revokedAt: Date }>, thisUpdate: Date, nextUpdate: Date) => Promise<string>;
  /** Where the current revocation list goes (a file a broker's `crlfile` names). */
  publishCrl: (pem: string) => void;
  /** Also told the revoked certificates' nodes, where a broker revokes by node (NATS: the account's revocation list). */
  publishRevocations?: (revoked: ReadonlyArray<{ brokerUser: string; notAfter: Date }>) => Promise<void>;
  now: () => Date;
  ttlMs: number;
  /** A node's certificates were revoked: its connections set up with one are closed (the embedded broker's). */
  onRevoked?: (nodeId: string) => void;
}

/** How long a revocation list stays valid: a broker that reads an expired one refuses every node, so well past a manager outage. */
export const crlValidityMs = 7 * 24 * 3_600_000;

export function createClientCertificates(deps: ClientCertificatesDeps) {
  let crl: string | null = null;
  const refresh = coalesced(async () => {
    const now = deps.now();
    const revoked = await deps.store.revokedNodeCertificates(now);
    crl = await deps.signCrl(revoked, now, new Date(now.getTime() + crlValidityMs));
    deps.publishCrl(crl);
    await deps.publishRevocations?.(revoked.filter((r) => r.brokerUser !== ''));
  });

  return {
    async issue(nodeId: string, requestPem: string): Promise<SignedCertificate> {
      if (requestPem.trim() === '') throw new DomainError('invalid-argument', 'no certificate request');
      const now = deps.now();
      // A tenth of the lifetime, at least a minute; short lifetimes (tests) keep room to renew at two thirds.
      const spacingMs = Math.max(deps.ttlMs / 10, Math.min(60_000, deps.ttlMs / 2));
      if ((await deps.store.nodeCertificatesIssuedSince(nodeId, new Date(now.getTime() - spacingMs))) > 0) {
        throw new DomainError('unavailable', `node ${nodeId} was given a certificate less than ${Math.round(spacingMs / 1000)} s ago; it renews at two thirds of its lifetime`);
      }
      const signed = await deps.sign(requestPem, nodeId, now, new Date(now.getTime() + deps.ttlMs)).catch((error: unknown) => {
        throw deps.isBadRequest(error) ? new DomainError('invalid-argument', error instanceof Error ? error.message : String(error)) : error;
      });
      await deps.store.recordNodeCertificate({ serial: signed.serial, nodeId, issuedAt: now, notAfter: signed.notAfter, brokerUser: signed.brokerUser });
      return signed;
    },
    /**
     * The node a client certificate identifies (one that chained to the CA in its TLS handshake): the one this
     * manager issued it to, while it is neither revoked nor expired; null otherwise. Asked of the store each time:
     * another replica may have revoked it a moment ago.
     */
    async nodeOf(certificate: { commonName: string; serial: string }): Promise<string | null> {
      const record = await deps.store.getNodeCertificate(certificate.serial);
      if (!record || record.nodeId !== certificate.commonName || record.revokedAt !== null || record.notAfter.getTime() <= deps.now().getTime()) return null;
      return record.nodeId;
    },
    /** Revokes every certificate of the node; the revocation list is current when it resolves. */
    async revokeAll(nodeId: string): Promise<number> {
      const revoked = await deps.store.revokeNodeCertificates(nodeId, deps.now());
      if (revoked > 0) {
        await refresh.run();
        deps.onRevoked?.(nodeId);
      }
      return revoked;
    },
    /** Makes the revocation list again from the store (at start, and now and then: another replica may have revoked). */
    refreshCrl: () => refresh.run(),
    crl: () => crl,
  };
}

export type ClientCertificates = ReturnType<typeof createClientCertificates>;
