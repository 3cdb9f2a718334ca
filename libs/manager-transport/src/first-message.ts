// A connection takes its turn at an admission gate only once its client has
// sent its whole first message: the TLS ClientHello record, or (plain MQTT) the
// CONNECT packet. A turn is a share of the few connections set up at once; a
// peer that connected and sent nothing (or half a hello) held one for the 10 s
// handshake timeout, so a few dozen silent peers from anywhere kept every node
// of a storm waiting (hostile review). Until its first message is complete a
// connection holds no turn; one that does not complete it in time is closed.
//
// The bytes read are put back (`unshift`) before the connection is handed on:
// the TLS socket or the broker reads them as if nothing had happened.
import type { Socket } from 'node:net';

/**
 * What the first bytes say about the first message: its whole length (header included) once the
 * header is in, not yet, or why it is none. Only the header is looked at: the rest is counted, not
 * re-read (a hello trickled a byte at a time costs one pass, not one per byte: hostile review).
 */
export type FirstMessageCheck = (head: Buffer) => 'incomplete' | { length: number } | { refused: string };

/** The largest TLS plaintext record (RFC 8446 §5.1): a hello announcing more is none. */
export const maxTlsRecordBytes = 16_384;

/** TLS: a handshake record (content type 22, version 3.x); its 5-byte header gives its length. */
export const tlsHelloRecord: FirstMessageCheck = (head) => {
  if (head.length >= 1 && head[0] !== 22) return { refused: 'not a TLS handshake' };
  if (head.length >= 2 && head[1] !== 3) return { refused: 'not a TLS handshake' };
  if (head.length < 5) return 'incomplete';
  const record = head.readUInt16BE(3);
  if (record > maxTlsRecordBytes) return { refused: `a TLS record of ${record} bytes (at most ${maxTlsRecordBytes})` };
  return { length: 5 + record };
};

/**
 * MQTT: a CONNECT packet (type 1); its fixed header gives the remaining length (1 to 4 bytes). One
 * announcing more than `maxBytes` is handed on at its header: the broker's frame guard cuts it, and says so.
 */
export function mqttConnectPacket(maxBytes: number): FirstMessageCheck {
  return (head) => {
    if (head.length >= 1 && head[0] !== 0x10) return { refused: 'not an MQTT CONNECT' };
    let remaining = 0;
    for (let i = 1; i <= 4; i += 1) {
      if (head.length <= i) return 'incomplete';
      const byte = head[i] as number;
      remaining += (byte & 0x7f) * 128 ** (i - 1);
      if ((byte & 0x80) === 0) return { length: 1 + i + remaining > maxBytes ? 1 + i : 1 + i + remaining };
    }
    return { refused: 'malformed MQTT remaining length' };
  };
}

/** Bytes enough for any first message's header (TLS: 5; MQTT: 1 + 4). */
const headerBytes = 5;

/**
 * Calls `arrived` once the socket's first message has come whole (its bytes put back unread), or
 * `refused` with the reason, which must close the socket, when it is none or is not whole within
 * `timeoutMs`. A socket that closes first gets neither.
 */
export function awaitFirstMessage(socket: Socket, check: FirstMessageCheck, timeoutMs: number, arrived: () => void, refused: (reason: string) => void): void {
  const chunks: Buffer[] = [];
  let received = 0;
  let length: number | null = null;
  let settled = false;
  const finish = () => {
    settled = true;
    clearTimeout(timer);
    socket.removeListener('readable', onReadable);
    socket.removeListener('close', onClose);
  };
  const refuse = (reason: string) => {
    finish();
    refused(reason);
  };
  const onReadable = () => {
    if (settled) return;
    for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
      chunks.push(chunk);
      received += chunk.length;
    }
    if (length === null) {
      const verdict = check(Buffer.concat(chunks, Math.min(received, headerBytes)));
      if (verdict === 'incomplete') return;
      if ('refused' in verdict) return refuse(verdict.refused);
      length = verdict.length;
    }
    if (received < length) return;
    finish();
    socket.unshift(Buffer.concat(chunks, received));
    arrived();
  };
  const onClose = () => finish();
  const timer = setTimeout(() => refuse(`no complete first message within ${timeoutMs} ms`), timeoutMs);
  timer.unref();
  socket.on('readable', onReadable);
  socket.once('close', onClose);
}
