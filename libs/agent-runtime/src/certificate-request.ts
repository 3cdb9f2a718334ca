// The node's key pair and its certificate request (PKCS#10, RFC 2986), made
// with node:crypto alone. The agent may not carry the manager's X.509 library
// (@peculiar/x509 with reflect-metadata: its memory floor, see eslint's
// managerOnlyPackages), and node:crypto makes every hard part (the P-256 key,
// its SubjectPublicKeyInfo, the DER ECDSA signature): what is left is the
// request's fixed envelope, a handful of DER elements, written out here and
// checked by openssl and by the manager's parser in the tests.
import { generateKeyPairSync, sign } from 'node:crypto';

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const sequence = 0x30;
const set = 0x31;
const integer = 0x02;
const bitString = 0x03;
const objectId = 0x06;
const utf8String = 0x0c;
/** 2.5.4.3, commonName */
const commonName = Buffer.from('550403', 'hex');
/** 1.2.840.10045.4.3.2, ecdsa-with-SHA256 */
const ecdsaWithSha256 = Buffer.from('2a8648ce3d040302', 'hex');

function pem(label: string, body: Buffer): string {
  return `-----BEGIN ${label}-----\n${body.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END ${label}-----\n`;
}

/**
 * A new ECDSA P-256 key (PKCS#8 PEM, kept by the agent) and a request for a certificate of it, signed by it.
 * The name in the request is a placeholder: the manager names the certificate after the node.
 */
export function nodeKeyAndRequest(): { keyPem: string; requestPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const subject = der(sequence, der(set, der(sequence, der(objectId, commonName), der(utf8String, Buffer.from('metalfleet node')))));
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // version 0, subject, subjectPKInfo, attributes [0] (none)
  const info = der(sequence, der(integer, Buffer.from([0])), subject, spki, Buffer.from([0xa0, 0x00]));
  const signature = sign('sha256', info, { key: privateKey, dsaEncoding: 'der' });
  const request = der(sequence, info, der(sequence, der(objectId, ecdsaWithSha256)), der(bitString, Buffer.from([0]), signature));
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), requestPem: pem('CERTIFICATE REQUEST', request) };
}
