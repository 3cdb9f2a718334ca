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

/** Whether `head`, the bytes received so far, hold a whole first message: yes, not yet, or why it is none. */
export type FirstMessageCheck = (head: Buffer) => 'complete' | 'incomplete' | { refused: string };

/** TLS: a handshake record (content type 22, version 3.x) received in full (its 5-byte header gives its length). */
export const tlsHelloRecord: FirstMessageCheck = (head) => {
  if (head.length >= 1 && head[0] !== 22) return { refused: 'not a TLS handshake' };
  if (head.length >= 2 && head[1] !== 3) return { refused: 'not a TLS handshake' };
  if (head.length < 5) return 'incomplete';
  return head.length >= 5 + head.readUInt16BE(3) ? 'complete' : 'incomplete';
};

/** MQTT: a CONNECT packet (type 1) received in full (its fixed header gives the remaining length, 1 to 4 bytes). */
/** One announcing more than `maxBytes` counts as complete at its header: the broker's frame guard cuts it, and reports it. */
export function mqttConnectPacket(maxBytes: number): FirstMessageCheck {
  return (head) => {
    if (head.length >= 1 && head[0] !== 0x10) return { refused: 'not an MQTT CONNECT' };
    let remaining = 0;
    for (let i = 1; i <= 4; i += 1) {
      if (head.length <= i) return 'incomplete';
      const byte = head[i] as number;
      remaining += (byte & 0x7f) * 128 ** (i - 1);
      if ((byte & 0x80) === 0) {
        // One over the limit is handed on at once: the broker's frame guard cuts it, and says so.
        if (1 + i + remaining > maxBytes) return 'complete';
        return head.length >= 1 + i + remaining ? 'complete' : 'incomplete';
      }
    }
    return { refused: 'malformed MQTT remaining length' };
  };
}

/**
 * Calls `arrived` once `check` finds the socket's first message complete (its bytes put back
 * unread), or `refused` with the reason, which must close the socket, when it is none or is not
 * complete within `timeoutMs`. A socket that closes first gets neither.
 */
export function awaitFirstMessage(socket: Socket, check: FirstMessageCheck, timeoutMs: number, arrived: () => void, refused: (reason: string) => void): void {
  const chunks: Buffer[] = [];
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
    for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) chunks.push(chunk);
    const head = Buffer.concat(chunks);
    const verdict = check(head);
    if (verdict === 'incomplete') return;
    if (verdict !== 'complete') return refuse(verdict.refused);
    finish();
    socket.unshift(head);
    arrived();
  };
  const onClose = () => finish();
  const timer = setTimeout(() => refuse(`no complete first message within ${timeoutMs} ms`), timeoutMs);
  timer.unref();
  socket.on('readable', onReadable);
  socket.once('close', onClose);
}
