import { describe, expect, it } from 'vitest';
import { maxTlsRecordBytes, mqttConnectPacket, tlsHelloRecord } from './first-message.ts';

describe('a connection\'s first message', () => {
  it('TLS: its length is known once the 5-byte record header is in', () => {
    const record = Buffer.concat([Buffer.from([22, 3, 1, 0, 6]), Buffer.alloc(6)]);
    expect(tlsHelloRecord(record.subarray(0, 0))).toBe('incomplete');
    expect(tlsHelloRecord(record.subarray(0, 3))).toBe('incomplete');
    expect(tlsHelloRecord(record.subarray(0, 5))).toEqual({ length: 11 });
  });

  it('TLS: anything but a handshake record is refused at its first bytes, and so is a record longer than TLS allows', () => {
    expect(tlsHelloRecord(Buffer.from('GET / HTTP/1.1'))).toEqual({ refused: 'not a TLS handshake' });
    expect(tlsHelloRecord(Buffer.from([22, 9]))).toEqual({ refused: 'not a TLS handshake' });
    expect(tlsHelloRecord(Buffer.from([0x10, 3]))).toEqual({ refused: 'not a TLS handshake' });
    expect(tlsHelloRecord(Buffer.from([22, 3, 1, 0xff, 0xff]))).toEqual({ refused: `a TLS record of 65535 bytes (at most ${maxTlsRecordBytes})` });
    expect(tlsHelloRecord(Buffer.from([22, 3, 1, 0x40, 0x00]))).toEqual({ length: 5 + 16_384 });
  });

  it('MQTT: the CONNECT\'s length is known once its fixed header is in (remaining length of 1 to 4 bytes)', () => {
    const check = mqttConnectPacket(4096);
    const connect = Buffer.from([0x10, 130, 1]); // remaining length 130: two bytes
    expect(check(connect.subarray(0, 1))).toBe('incomplete');
    expect(check(connect.subarray(0, 2))).toBe('incomplete');
    expect(check(connect)).toEqual({ length: 133 });
  });

  it('MQTT: refuses what is not a CONNECT and a malformed length; hands one over the limit on at its header (the frame guard cuts it)', () => {
    const check = mqttConnectPacket(4096);
    expect(check(Buffer.from([0x30, 2, 0, 0]))).toEqual({ refused: 'not an MQTT CONNECT' });
    expect(check(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff]))).toEqual({ refused: 'malformed MQTT remaining length' });
    expect(check(Buffer.from([0x10, 0xff, 0xff, 0x7f]))).toEqual({ length: 4 });
  });
});
