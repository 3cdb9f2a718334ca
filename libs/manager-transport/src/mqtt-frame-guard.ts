// A cap on the size of every MQTT packet a connection announces, checked on
// the bytes before the MQTT parser sees them.
//
// aedes' parser (mqtt-packet) keeps every byte of a packet until the whole
// packet has arrived, whatever length its fixed header announces. One
// unauthenticated CONNECT announcing 250 MB therefore made the broker buffer
// whatever the client sent until the connect timeout. The guard reads the
// fixed header of each packet as it streams past (type byte, then the
// variable-length "remaining length") and cuts the connection as soon as an
// announced length is over the limit: before CONNECT is authenticated the
// limit is a few KB (a CONNECT is small), afterwards the node's payload limit
// plus room for the topic and properties.
import type { Duplex } from 'node:stream';

export interface FrameViolation {
  /** The announced remaining length (at least what was decoded of it), or -1 for a malformed length. */
  announced: number;
  limit: number;
}

/** Walks MQTT fixed headers across arbitrary chunk boundaries. */
export class MqttFrameScanner {
  /** Largest remaining length a packet may announce. */
  limit: number;
  private bodyLeft = 0; // bytes of the current packet's body still to pass
  private inHeader = false; // the type byte was seen; reading the remaining length
  private lengthBytes = 0;
  private length = 0;
  private multiplier = 1;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Scans one chunk; the first packet over the limit (or a malformed length) is returned, null when all is well. */
  scan(chunk: Uint8Array): FrameViolation | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        const step = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= step;
        i += step;
        continue;
      }
      const byte = chunk[i] ?? 0;
      i += 1;
      if (!this.inHeader) {
        this.inHeader = true;
        this.lengthBytes = 0;
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes += 1;
      // The length only grows with each byte: a partial length already over the limit is enough.
      if (this.length > this.limit) return { announced: this.length, limit: this.limit };
      if ((byte & 0x80) === 0) {
        this.inHeader = false;
        this.bodyLeft = this.length;
      } else if (this.lengthBytes >= 4) {
        return { announced: -1, limit: this.limit }; // MQTT allows at most 4 length bytes
      }
    }
    return null;
  }
}

export interface FrameGuard {
  /** The connection proved its identity: from now on packets may be as large as `limit`. */
  raise(limit: number): void;
}

/**
 * Puts a scanner in front of whoever reads `conn` with read() (aedes reads its
 * connection on 'readable' with conn.read()). On a violation the connection is
 * destroyed before the chunk is handed on, so the oversized packet never
 * reaches the parser's buffer.
 */
export function guardMqttFrames(conn: Duplex, limit: number, onViolation: (violation: FrameViolation) => void): FrameGuard {
  const scanner = new MqttFrameScanner(limit);
  const read = conn.read.bind(conn);
  conn.read = (size?: number): unknown => {
    const chunk: unknown = read(size);
    if (chunk instanceof Uint8Array) {
      const violation = scanner.scan(chunk);
      if (violation) {
        onViolation(violation);
        conn.destroy();
        return null;
      }
    }
    return chunk;
  };
  return { raise: (next) => void (scanner.limit = next) };
}

/** A packet's fixed header as the scanner reads it: the type byte, then MQTT's variable-length remaining length (for clients and tests). */
export function mqttFixedHeader(typeByte: number, remainingLength: number): Buffer {
  const bytes = [typeByte];
  let n = remainingLength;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return Buffer.from(bytes);
}
