// Composing nodes' client certificates (--node-certificates): signed with the
// manager's CA, their revocation list written to <dataDir>/pki/nodes.crl for a
// broker's `crlfile`, made again at start and every ten minutes (another
// replica may have revoked one; the list must never reach its nextUpdate).
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createClientCertificates, type ClientCertificates } from '@metalfleet/fleet';
import { CertificateRequestError, signNodeCertificate, signNodeCrl, type CertificateAuthority } from '@metalfleet/manager-transport';
import type { FleetStore } from '@metalfleet/store';
import type { NatsOperator } from './nats.ts';

export const nodeCrlFile = (dataDir: string) => join(dataDir, 'pki', 'nodes.crl');

export async function startNodeCertificates(deps: {
  ca: CertificateAuthority; dataDir: string; store: FleetStore; now: () => Date; ttlS: number; logger: Logger; maxPayloadBytes: number;
  /** A NATS cluster's operator: nodes also get a user token, and revocations go to the cluster too. */
  nats: NatsOperator | null;
  /** A node's certificates were revoked (its broker connections are closed). */
  onRevoked: (nodeId: string) => void;
}): Promise<{ certificates: ClientCertificates; stop: () => void }> {
  const { nats } = deps;
  const file = nodeCrlFile(deps.dataDir);
  const certificates = createClientCertificates({
    store: deps.store, now: deps.now, ttlMs: deps.ttlS * 1000, onRevoked: deps.onRevoked,
    sign: async (requestPem, nodeId, now, notAfter) => {
      const signed = await signNodeCertificate(deps.ca, requestPem, nodeId, now, notAfter);
      const broker = nats ? await nats.accounts.nodeToken(nodeId, now, notAfter, deps.maxPayloadBytes) : { token: '', user: '' };
      return { ...signed, brokerToken: broker.token, brokerUser: broker.user };
    },
    isBadRequest: (error) => error instanceof CertificateRequestError,
    signCrl: (revoked, thisUpdate, nextUpdate) => signNodeCrl(deps.ca, revoked, thisUpdate, nextUpdate),
    // Written aside and renamed over: a broker reading it never sees half a list.
    publishCrl: (pem) => {
      writeFileSync(`${file}.new`, pem, { mode: 0o644 });
      renameSync(`${file}.new`, file);
    },
    ...(nats ? { publishRevocations: nats.publishRevocations } : {}),
  });
  await certificates.refreshCrl();
  deps.logger.info({ crl: file }, 'nodes get client certificates (--node-certificates); revoked ones are listed in the CRL file');
  const timer = setInterval(() => {
    certificates.refreshCrl().catch((error: unknown) => deps.logger.error({ err: error, crl: file }, 'could not write the node certificate revocation list; trying again in ten minutes'));
  }, 600_000);
  return { certificates, stop: () => clearInterval(timer) };
}
