import { describe, expect, it } from 'vitest';
import { mqttConnectPacket, tlsHelloRecord } from './first-message.ts';

describe('a connection\'s first message', () => {
  it('TLS: complete once the handshake record its header announces has come whole', () => {
    const record = Buffer.concat([Buffer.from([22, 3, 1, 0, 6]), Buffer.alloc(6)]);
    expect(tlsHelloRecord(record.subarray(0, 0))).toBe('incomplete');
    expect(tlsHelloRecord(record.subarray(0, 3))).toBe('incomplete');
    expect(tlsHelloRecord(record.subarray(0, 10))).toBe('incomplete');
    expect(tlsHelloRecord(record)).toBe('complete');
    expect(tlsHelloRecord(Buffer.concat([record, Buffer.from([23, 3, 3])]))).toBe('complete');
  });

  it('TLS: anything but a handshake record is refused at its first bytes', () => {
    expect(tlsHelloRecord(Buffer.from('GET / HTTP/1.1'))).toEqual({ refused: 'not a TLS handshake' });
    expect(tlsHelloRecord(Buffer.from([22, 9]))).toEqual({ refused: 'not a TLS handshake' });
    expect(tlsHelloRecord(Buffer.from([0x10, 3]))).toEqual({ refused: 'not a TLS handshake' });
  });

  it('MQTT: complete once the CONNECT its fixed header announces has come whole (remaining length of 1 to 4 bytes)', () => {
    const check = mqttConnectPacket(4096);
    const connect = Buffer.concat([Buffer.from([0x10, 130, 1]), Buffer.alloc(130)]); // remaining length 130: two bytes
    expect(check(connect.subarray(0, 1))).toBe('incomplete');
    expect(check(connect.subarray(0, 2))).toBe('incomplete');
    expect(check(connect.subarray(0, 100))).toBe('incomplete');
    expect(check(connect)).toBe('complete');
  });

  it('MQTT: refuses what is not a CONNECT and a malformed length; hands one over the limit on at its header (the frame guard cuts it)', () => {
    const check = mqttConnectPacket(4096);
    expect(check(Buffer.from([0x30, 2, 0, 0]))).toEqual({ refused: 'not an MQTT CONNECT' });
    expect(check(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 1]))).toEqual({ refused: 'malformed MQTT remaining length' });
    expect(check(Buffer.from([0x10, 0xff, 0xff, 0x7f]))).toBe('complete');
  });
});
