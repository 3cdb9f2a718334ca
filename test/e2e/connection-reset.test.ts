// A peer that resets its connection while it waits for its turn to be set up
// (admission control: the TLS handshake slots are all taken) must cost the
// manager one closed socket, never the process. Anyone who reaches the MQTT or
// gRPC port can do this, and agents do it by the thousand in a connect storm
// (a channel closed with unread bytes is reset): a 10,000-node storm run lost
// its manager this way, to an unhandled 'error' event (read ECONNRESET).
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { swallowingRelay } from '@metalfleet/manager-transport/swallowing-relay';
import { ManagerProcess } from '../support/manager.ts';
import { eventually } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-conn-reset-'));
let manager: ManagerProcess;
const held: Array<{ destroy(): void }> = [];

beforeAll(async () => {
  // One set-up slot on each port, so that a second connection waits.
  manager = new ManagerProcess(join(dir, 'manager'), ['--mqtt-max-concurrent-connects', '1', '--grpc-max-concurrent-handshakes', '1', '--connect-wait-s', '30']);
  await manager.start();
}, 120_000);

afterAll(async () => {
  for (const s of held) s.destroy();
  await manager?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const portOf = (address: string) => Number(address.split(':').at(-1));

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${manager.http}/metrics`, { headers: manager.auth() })).text();
  return Number(text.split('\n').find((l) => l.startsWith(name))?.split(' ').at(-1) ?? Number.NaN);
}

/** A whole TLS hello record, as far as admission control looks: enough to wait for a turn. */
const helloRecord = Buffer.concat([Buffer.from([22, 3, 1, 0, 4]), Buffer.alloc(4)]);

describe('a connection reset while it waits for its turn', () => {
  for (const [name, address, stage] of [
    ['gRPC', () => manager.grpc, 'metalfleet_grpc_connections_setting_up'],
    ['MQTT', () => manager.mqtt, 'metalfleet_mqtt_connections_setting_up'],
  ] as const) {
    it(`${name}: closes that socket and nothing else`, async () => {
      const port = portOf(address());
      // Takes the only slot: a TLS 1.2 hello whose answer never reaches its client (a relay swallows it), so its handshake waits.
      const relay = await swallowingRelay(port);
      held.push({ destroy: relay.close });
      const holder = tlsConnect({ port: relay.port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion: 'TLSv1.2', ...(name === 'gRPC' ? { ALPNProtocols: ['h2'] } : {}) });
      holder.on('error', () => undefined);
      held.push(holder);
      await eventually(() => metric(`${stage}{stage="admitted"}`), (n) => n >= 1);
      const waiter = await dial(port);
      waiter.write(helloRecord);
      await eventually(() => metric(`${stage}{stage="waiting"}`), (n) => n >= 1);
      // Bytes the manager has not read, then a reset (RST), as a closed channel with unread data sends.
      waiter.write(Buffer.alloc(512, 0x16));
      waiter.resetAndDestroy();
      await eventually(() => metric(`${stage}{stage="waiting"}`), (n) => n === 0);
      // And one reset before its hello came whole (it waited for no turn yet).
      const early = await dial(port);
      early.write(helloRecord.subarray(0, 3));
      early.resetAndDestroy();
      // Still alive, and still serving.
      expect(manager.proc?.child.exitCode).toBeNull();
      expect((await fetch(`${manager.http}/healthz`)).status).toBe(200);
    }, 60_000);
  }
});
