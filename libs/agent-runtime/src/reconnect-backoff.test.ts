import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { applyReconnectBackoff, type ReconnectingClient } from './reconnect-backoff.ts';

function fakeClient(): ReconnectingClient {
  return Object.assign(new EventEmitter(), { options: { reconnectPeriod: 1000 } });
}

const policy = { initialMs: 1000, maxMs: 30_000 };

describe('applyReconnectBackoff (MQTT reconnects: full jitter, growing, capped, reset by a CONNACK)', () => {
  it('grows the ceiling with each failed attempt up to the cap', () => {
    const client = fakeClient();
    applyReconnectBackoff(client, policy, () => 0.999);
    const periods = [client.options.reconnectPeriod];
    for (let i = 0; i < 8; i += 1) {
      client.emit('close');
      periods.push(client.options.reconnectPeriod);
    }
    expect(periods).toEqual([999, 1998, 3996, 7992, 15_984, 29_970, 29_970, 29_970, 29_970]);
  });

  it('draws each delay anywhere in [0, ceiling] (full jitter), never 0 (which would stop mqtt.js reconnecting)', () => {
    const draws = [0, 0.25, 0.5, 0.75];
    let i = 0;
    const client = fakeClient();
    applyReconnectBackoff(client, policy, () => draws[i++ % draws.length]!);
    const periods = [client.options.reconnectPeriod];
    for (let k = 0; k < 3; k += 1) {
      client.emit('close');
      periods.push(client.options.reconnectPeriod);
    }
    // ceilings 1000, 2000, 4000, 8000
    expect(periods).toEqual([1, 500, 2000, 6000]);
  });

  it('starts again from the shortest window after a successful connection', () => {
    const client = fakeClient();
    const failures = applyReconnectBackoff(client, policy, () => 0.999);
    for (let k = 0; k < 6; k += 1) client.emit('close');
    expect(client.options.reconnectPeriod).toBe(29_970);
    expect(failures()).toBe(6);
    client.emit('connect');
    expect(failures()).toBe(0);
    expect(client.options.reconnectPeriod).toBe(999);
  });
});
