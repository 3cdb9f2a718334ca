// The one TLS policy of every listener the manager opens (gRPC, MQTT, HTTPS):
// TLS 1.2 or 1.3, forward-secret key exchange (ECDHE) and AEAD ciphers only
// (AES-GCM, ChaCha20-Poly1305). Node's default list still offers CBC suites
// with TLS 1.2 (ECDHE-ECDSA-AES128-SHA256 and the like: MAC-then-encrypt,
// the family of Lucky13 and POODLE-style padding oracles); they are left out.
// The manager's certificates are ECDSA, so only the ECDSA suites are ever
// chosen; the RSA ones are listed for a site that brings an RSA certificate.
import { ServerCredentials } from '@grpc/grpc-js';
import type { SecureContextOptions, TlsOptions } from 'node:tls';

/** TLS 1.3 suites are all AEAD; listed so that TLS 1.3 stays on whatever OpenSSL's defaults are. */
const tls13Suites = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256'];
const tls12Suites = [
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305', 'ECDHE-RSA-AES128-GCM-SHA256',
];

/** OpenSSL cipher string of the policy. */
export const aeadCiphers = [...tls13Suites, ...tls12Suites].join(':');

/** Options for node:tls / node:https / node:http2 servers: the policy plus the key and chain. */
export function serverTlsOptions(keyPem: string, chainPem: string): TlsOptions & SecureContextOptions {
  return { key: keyPem, cert: chainPem, minVersion: 'TLSv1.2', ciphers: aeadCiphers, honorCipherOrder: true };
}

// grpc-js reads its cipher list only from GRPC_SSL_CIPHER_SUITES at load time; its credentials class
// takes the http2 server's constructor options, so the policy travels in those instead.
class PolicyServerCredentials extends ServerCredentials {
  constructor(keyPem: string, chainPem: string) {
    super({ minVersion: 'TLSv1.2', ciphers: aeadCiphers, honorCipherOrder: true, requestCert: false }, { key: Buffer.from(keyPem), cert: Buffer.from(chainPem) });
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

/** gRPC server credentials with the policy. */
export function grpcServerCredentials(keyPem: string, chainPem: string): ServerCredentials {
  return new PolicyServerCredentials(keyPem, chainPem);
}

/** The key-log line of the TLS 1.3 server's application traffic secret: derived once its part of the handshake is sent. */
const serverSecretLabel = Buffer.from('SERVER_TRAFFIC_SECRET_0 ');

/**
 * Whether a server's key-log line says its part of a TLS 1.3 handshake is done (key agreement, signature,
 * its Finished): what is left is waiting for the client. (TLS 1.2 has no such line: false.)
 */
export function serverHandshakeSent(keylogLine: Buffer): boolean {
  return keylogLine.subarray(0, serverSecretLabel.length).equals(serverSecretLabel);
}
