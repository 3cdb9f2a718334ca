// A peer that resets its connection while it waits for its turn to be set up
// (admission control: the TLS handshake slots are all taken) must cost the
// manager one closed socket, never the process. Anyone who reaches the MQTT or
// gRPC port can do this, and agents do it by the thousand in a connect storm
// (a channel closed with unread bytes is reset): a 10,000-node storm run lost
// its manager this way, to an unhandled 'error' event (read ECONNRESET).
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagerProcess } from '../support/manager.ts';
import { eventually } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-conn-reset-'));
let manager: ManagerProcess;
const held: Socket[] = [];

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

describe('a connection reset while it waits for its turn', () => {
  for (const [name, address, waiting] of [
    ['gRPC', () => manager.grpc, 'metalfleet_grpc_connections_setting_up{stage="waiting"}'],
    ['MQTT', () => manager.mqtt, 'metalfleet_mqtt_connections_setting_up{stage="waiting"}'],
  ] as const) {
    it(`${name}: closes that socket and nothing else`, async () => {
      const port = portOf(address());
      // Takes the only slot: connected, never says hello, so its handshake waits.
      held.push(await dial(port));
      const waiter = await dial(port);
      await eventually(() => metric(waiting), (n) => n >= 1);
      // Bytes the manager has not read, then a reset (RST), as a closed channel with unread data sends.
      waiter.write(Buffer.alloc(512, 0x16));
      await eventually(() => metric(waiting), (n) => n >= 1);
      waiter.resetAndDestroy();
      await eventually(() => metric(waiting), (n) => n === 0);
      // Still alive, and still serving.
      expect(manager.proc?.child.exitCode).toBeNull();
      expect((await fetch(`${manager.http}/healthz`)).status).toBe(200);
    }, 60_000);
  }
});
