// Each node's own client certificate, signed by the manager's CA: common name =
// node id, for TLS client authentication only, short-lived. A broker (Mosquitto,
// NATS) checks it by itself, with the manager's CA and the revocation list made
// here, without asking the manager. The node makes its key pair and sends a
// certificate request (PKCS#10): its key never leaves the node, and the request
// must be signed by that key (proof of possession). Only the public key is taken
// from the request; the name is the manager's.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { CertificateAuthority } from './pki.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
/** Larger requests are refused before they are parsed: a P-256 request is about 400 bytes of PEM. */
const maxRequestBytes = 4096;

export interface SignedNodeCertificate {
  certPem: string;
  /** Lower-case hex, as a CRL and `openssl x509 -serial` name it. */
  serial: string;
  notAfter: Date;
}

/** Why a certificate request was refused: for the node's error answer, never a crash. */
export class CertificateRequestError extends Error {}

function serialNumber(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01; // positive, and no leading zero byte to be dropped in DER
  return Buffer.from(bytes).toString('hex');
}

async function signingKey(ca: CertificateAuthority): Promise<webcrypto.CryptoKey> {
  const der = Buffer.from(ca.keyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign']) as Promise<webcrypto.CryptoKey>;
}

/** Parses and checks a node's request: well formed, an ECDSA P-256 key, signed by that key. */
async function checkedRequest(requestPem: string): Promise<x509.Pkcs10CertificateRequest> {
  if (Buffer.byteLength(requestPem) > maxRequestBytes) throw new CertificateRequestError(`the certificate request is over ${maxRequestBytes} bytes`);
  let request: x509.Pkcs10CertificateRequest;
  try {
    request = new x509.Pkcs10CertificateRequest(requestPem);
  } catch (error) {
    throw new CertificateRequestError(`the certificate request is not a PEM PKCS#10 request: ${error instanceof Error ? error.message : String(error)}`);
  }
  const key = request.publicKey.algorithm as { name?: string; namedCurve?: string };
  if (key.name !== 'ECDSA' || key.namedCurve !== 'P-256') {
    throw new CertificateRequestError(`the certificate request's key must be ECDSA P-256, not ${key.name ?? 'unknown'}${key.namedCurve ? ` ${key.namedCurve}` : ''}`);
  }
  if (!(await request.verify().catch(() => false))) throw new CertificateRequestError('the certificate request is not signed by its own key');
  return request;
}

/** Signs a node's client certificate for `nodeId` from its request, valid from `now` (less 5 min of clock skew) to `notAfter`. */
export async function signNodeCertificate(ca: CertificateAuthority, requestPem: string, nodeId: string, now: Date, notAfter: Date): Promise<SignedNodeCertificate> {
  const request = await checkedRequest(requestPem);
  const caCert = new x509.X509Certificate(ca.certPem);
  const serial = serialNumber();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: new x509.Name([{ CN: [nodeId] }]),
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter,
    signingKey: await signingKey(ca),
    publicKey: request.publicKey,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', serial, notAfter };
}

/** The revocation list of node certificates, signed by the CA: what a broker's `crlfile` reads. */
export async function signNodeCrl(ca: CertificateAuthority, revoked: ReadonlyArray<{ serial: string; revokedAt: Date }>, thisUpdate: Date, nextUpdate: Date): Promise<string> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCert.subject,
    thisUpdate,
    nextUpdate,
    signingKey: await signingKey(ca),
    signingAlgorithm: algorithm,
    entries: revoked.map((r) => ({ serialNumber: r.serial, revocationDate: r.revokedAt })),
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(caCert, false)],
  });
  // The label openssl (and so Mosquitto) reads; the library's own is `CRL`.
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL') + '\n';
}

/**
 * A client certificate with a key made here, for the manager's own connection to an external broker: the
 * broker's ACL grants this common name the manager's topics. Nodes' certificates are named after node ids
 * (UUIDs the manager makes), so no node can be given this name.
 */
export async function issueManagerClientCertificate(ca: CertificateAuthority, commonName: string, now: Date, notAfter: Date): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const request = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=metalfleet manager', keys, signingAlgorithm: algorithm });
  const signed = await signNodeCertificate(ca, request.toString('pem'), commonName, now, notAfter);
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: signed.certPem, keyPem: x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n' };
}
