// Trust on first contact, but pinned: the agent reads the manager's certificate
// chain and keeps the CA only if its SHA-256 matches the fingerprint that came
// with the bootstrap token. From then on it verifies the manager against that CA.
import { X509Certificate } from 'node:crypto';
import { connect, type PeerCertificate, type DetailedPeerCertificate } from 'node:tls';
import { DomainError } from '@metalfleet/domain';

function pem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END CERTIFICATE-----\n`;
}

function chain(cert: DetailedPeerCertificate): PeerCertificate[] {
  const out: PeerCertificate[] = [];
  let current: DetailedPeerCertificate | undefined = cert;
  while (current && !out.includes(current)) {
    out.push(current);
    current = current.issuerCertificate === current ? undefined : current.issuerCertificate;
  }
  return out;
}

/** SHA-256 of a PEM certificate's DER, lower-case hex without separators: the form a pin takes. */
export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256.replaceAll(':', '').toLowerCase();
}

/** Returns the PEM of the CA in the manager's chain whose fingerprint is `pin`, or fails with `unauthenticated`. */
export function fetchPinnedCa(host: string, port: number, pin: string, timeoutMs = 10_000): Promise<string> {
  const wanted = pin.toLowerCase();
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, servername: /^[\d.]+$|:/.test(host) ? undefined : host, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    const timer = setTimeout(() => socket.destroy(new Error(`no TLS handshake with ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const match = chain(socket.getPeerCertificate(true)).find((c) => c.fingerprint256?.replaceAll(':', '').toLowerCase() === wanted);
      socket.end();
      if (match?.raw) resolve(pem(match.raw));
      else reject(new DomainError('unauthenticated', `the manager at ${host}:${port} does not present the CA pinned in the bootstrap token`));
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new DomainError('unavailable', `cannot reach ${host}:${port} over TLS: ${error.message}`));
    });
  });
}
