// The drainer across a connection the broker closed without a PUBACK (the manager could not store the report): the
// entry stays in the spool, the client sends it again on its next connection, and the rest of the spool follows then,
// without waiting for something new to be spooled.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { SpoolFile } from './spool.ts';
import { SpoolDrainer } from './spool-drainer.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

/** A client whose publishes are acknowledged only when `ack()` is called (as mqtt.js resolves a QoS 1 publish on PUBACK). */
function fakeClient() {
  const pending: Array<() => void> = [];
  const published: string[] = [];
  const client = {
    connected: true,
    publishAsync: (_topic: string, payload: Buffer) => {
      published.push(payload.toString());
      return new Promise<void>((resolve) => pending.push(resolve));
    },
  };
  return { client, published, ack: () => pending.shift()?.() };
}

async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !predicate(); i += 1) await new Promise((r) => setTimeout(r, 10));
  expect(predicate()).toBe(true);
}

describe('spool drainer', () => {
  it('keeps an entry until its PUBACK, and drains the rest after a reconnect without a new entry to start it', async () => {
    const file = new SpoolFile(join(mkdtempSync(join(tmpdir(), 'mf-drainer-')), 'spool.db'));
    const spool = file.spool('node');
    spool.append('health', bytes('a'));
    spool.append('health', bytes('b'));
    const drainer = new SpoolDrainer(spool, pino({ level: 'silent' }));
    const { client, published, ack } = fakeClient();
    drainer.attach(client as unknown as MqttClient, 'n1');
    await until(() => published.length === 1);

    // The broker closes the connection without a PUBACK: the entry stays.
    client.connected = false;
    drainer.detach();
    expect(spool.size()).toBe(2);

    // Reconnected: mqtt.js sends the unacknowledged publish again and this time the PUBACK comes.
    client.connected = true;
    drainer.attach(client as unknown as MqttClient, 'n1');
    ack();
    await until(() => spool.size() === 1);
    // The next entry goes out on the new connection by itself.
    await until(() => published.includes('b'));
    ack();
    await until(() => spool.size() === 0);
    file.close();
  });
});
