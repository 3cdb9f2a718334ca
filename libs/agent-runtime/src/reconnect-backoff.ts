// How long an MQTT client waits before it dials again: exponential with full
// jitter, reset by a successful CONNACK, capped. mqtt.js itself retries at a
// fixed period; in a power-on storm or after a manager restart thousands of
// nodes would then come back in the same few seconds, again and again, and a
// busy broker's refusals would bring them back as fast as it sheds them.
import type { EventEmitter } from 'node:events';
import { retryDelay, type BackoffPolicy } from '@metalfleet/domain';

/** The part of an mqtt.js client this needs: it reads options.reconnectPeriod each time it schedules a reconnect. */
export interface ReconnectingClient extends EventEmitter {
  options: { reconnectPeriod?: number };
}

/**
 * Sets the client's reconnect period now and after every connection that closes (mqtt.js schedules its
 * next attempt on 'close' before this listener runs, so each period set here serves the next close).
 * Returns the failures counted since the last CONNACK.
 */
export function applyReconnectBackoff(client: ReconnectingClient, policy: BackoffPolicy, random: () => number = Math.random): () => number {
  let failures = 0;
  // 0 would turn reconnecting off in mqtt.js.
  const set = () => (client.options.reconnectPeriod = Math.max(1, retryDelay(failures, policy, random())));
  set();
  client.on('connect', () => {
    failures = 0;
    set();
  });
  client.on('close', () => {
    failures += 1;
    set();
  });
  return () => failures;
}

/** The first reconnect period, for the options a client is created with. */
export function firstReconnectPeriod(policy: BackoffPolicy, random: () => number = Math.random): number {
  return Math.max(1, retryDelay(0, policy, random()));
}
