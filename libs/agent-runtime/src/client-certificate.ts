// The node's client certificate (--node-certificates on the manager), what the
// broker and the manager's gRPC know the node by: a new key and certificate
// after each registration (a new credential revokes the node's old
// certificates), renewed over mutual TLS when two thirds of its life are gone,
// kept in the state directory (key mode 600) for the MQTT session to present.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { Logger } from 'pino';
import { nodeKeyAndRequest } from './certificate-request.ts';
import { callAsNode, type NodeCall, type NodeCalls } from './node-calls.ts';
import { failureFields } from './log-fields.ts';

export interface ClientCertificate {
  keyPem: string;
  certPem: string;
  notAfter: Date;
  /** The MQTT password on a broker that wants one beside the certificate (NATS: a user JWT); '' where none. */
  brokerToken: string;
}

export const clientKeyFile = 'client.key';
export const clientCertFile = 'client.crt';
export const brokerTokenFile = 'broker.token';

/**
 * Written aside, then renamed over: the certificate first, the key last. A crash between the two leaves the new
 * certificate with the old key, which savedClientCertificate finds do not match, and a new one is asked for.
 */
function save(stateDir: string, certificate: ClientCertificate): void {
  for (const [name, text, mode] of [[clientCertFile, certificate.certPem, 0o644], [clientKeyFile, certificate.keyPem, 0o600], [brokerTokenFile, certificate.brokerToken, 0o600]] as const) {
    writeFileSync(join(stateDir, `${name}.new`), text, { mode });
  }
  // The token first: it expires with the certificate it came with, and one of an older pair is still the node's own.
  renameSync(join(stateDir, `${brokerTokenFile}.new`), join(stateDir, brokerTokenFile));
  renameSync(join(stateDir, `${clientCertFile}.new`), join(stateDir, clientCertFile));
  renameSync(join(stateDir, `${clientKeyFile}.new`), join(stateDir, clientKeyFile));
}

/**
 * The certificate saved for `nodeId` by an earlier run, when its key matches and more than a third of its life is
 * left: a restarted agent whose credential still stands uses it instead of asking (the manager refuses a node that
 * asks again too soon).
 */
export function savedClientCertificate(stateDir: string, nodeId: string, now = Date.now()): ClientCertificate | null {
  try {
    const certPem = readFileSync(join(stateDir, clientCertFile), 'utf8');
    const keyPem = readFileSync(join(stateDir, clientKeyFile), 'utf8');
    const cert = new X509Certificate(certPem);
    const [from, to] = [new Date(cert.validFrom).getTime(), new Date(cert.validTo).getTime()];
    if (cert.subject !== `CN=${nodeId}` || !cert.checkPrivateKey(createPrivateKey(keyPem)) || to - now < (to - from) / 3) return null;
    let brokerToken = '';
    try {
      brokerToken = readFileSync(join(stateDir, brokerTokenFile), 'utf8');
    } catch {
      // Saved by an agent before broker tokens, or for a broker that takes none.
    }
    return { certPem, keyPem, notAfter: new Date(to), brokerToken };
  } catch {
    return null;
  }
}

/** A new key, and the manager's certificate for it, asked over `call` (by the current certificate, or the credential). */
export async function issueClientCertificate(call: NodeCall, stateDir: string): Promise<ClientCertificate> {
  const { keyPem, requestPem } = nodeKeyAndRequest();
  const reply = await call.client.issueCertificate({ certificateRequest: requestPem }, { metadata: call.metadata(), deadlineMs: 30_000 });
  if (!reply.notAfter || reply.certificate === '') throw new Error('the manager answered the certificate request without a certificate');
  const certificate = { keyPem, certPem: reply.certificate, notAfter: timestampDate(reply.notAfter), brokerToken: reply.brokerToken };
  save(stateDir, certificate);
  return certificate;
}

/** A renewal, over mutual TLS with the certificate it replaces, or with the credential where the manager refuses that one. */
async function renew(calls: NodeCalls, stateDir: string, logger: Logger): Promise<ClientCertificate> {
  return callAsNode(calls, (call) => {
    if (!call.byCertificate && calls.current().byCertificate) logger.warn('the manager refused this node\'s client certificate; asking for a new one with the node credential');
    return issueClientCertificate(call, stateDir);
  });
}

export interface CertificateKeeperDeps {
  calls: NodeCalls;
  stateDir: string;
  logger: Logger;
  signal: AbortSignal;
  /** A renewed certificate, for the next broker connection (the calls already use it). */
  onRenewed: (certificate: ClientCertificate) => void;
  now?: () => number;
}

/** Renews `first` and each certificate after it when two thirds of its life are gone; a failed try is tried again a minute later. */
export async function keepClientCertificate(first: ClientCertificate, deps: CertificateKeeperDeps): Promise<void> {
  const now = deps.now ?? Date.now;
  let current = first;
  let issuedAt = now();
  while (!deps.signal.aborted) {
    const renewAt = issuedAt + ((current.notAfter.getTime() - issuedAt) * 2) / 3;
    await sleep(Math.max(0, renewAt - now()), undefined, { signal: deps.signal }).catch(() => undefined);
    while (!deps.signal.aborted) {
      try {
        current = await renew(deps.calls, deps.stateDir, deps.logger);
        // The session ended meanwhile: the certificate is saved for the next one, whose calls are not these.
        if (deps.signal.aborted) return;
        issuedAt = now();
        deps.logger.info({ notAfter: current.notAfter.toISOString() }, 'client certificate renewed');
        deps.calls.useCertificate(current);
        deps.onRenewed(current);
        break;
      } catch (error) {
        deps.logger.warn({ ...failureFields(error), expiresAt: current.notAfter.toISOString() }, 'client certificate renewal failed; trying again in a minute');
        await sleep(60_000, undefined, { signal: deps.signal }).catch(() => undefined);
      }
    }
  }
}
