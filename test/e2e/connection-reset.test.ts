// A peer that resets its connection while it waits for its turn to be set up
// (admission control: the set-up slots are all taken) must cost the
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

beforeAll(async () => {
  // One set-up slot on each port, so that a second connection waits.
  manager = new ManagerProcess(join(dir, 'manager'), ['--mqtt-max-concurrent-connects', '1', '--grpc-max-concurrent-handshakes', '1', '--connect-wait-s', '30']);
  await manager.start();
}, 120_000);

afterAll(async () => {
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
      // With one set-up slot, a burst of 100 whole hellos arriving together mostly waits for its turns (a turn
      // lasts until the server answered its hello). Each then sends bytes the manager has not read, and a reset
      // (RST), as a closed channel with unread data sends.
      const burst = await Promise.all(Array.from({ length: 100 }, () => dial(port)));
      for (const socket of burst) {
        socket.on('error', () => undefined);
        socket.write(helloRecord);
      }
      for (const socket of burst) {
        socket.write(Buffer.alloc(512, 0x16));
        socket.resetAndDestroy();
      }
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
