import { describe, expect, it } from 'vitest';
import { brokerOrder } from './broker-order.ts';

const cluster = [{ host: 'nats-a', port: 8883 }, { host: 'nats-b', port: 8883 }, { host: 'nats-c', port: 8883 }];
const fleet = Array.from({ length: 3000 }, (_, i) => `node-${i}`);
const tally = (names: string[]) => names.reduce((counts, name) => counts.set(name, (counts.get(name) ?? 0) + 1), new Map<string, number>());

describe('the brokers a node tries, in order', () => {
  it('spreads a fleet evenly over the cluster (all of 20,000 went to the first)', () => {
    const firsts = tally(fleet.map((node) => brokerOrder(node, cluster)[0]!.host));
    expect([...firsts.keys()].sort()).toEqual(['nats-a', 'nats-b', 'nats-c']);
    for (const count of firsts.values()) expect(count).toBeGreaterThan(900);
  });

  it('spreads the nodes of a broker that dies over all the others, not onto the next one in the list', () => {
    const fromA = fleet.map((node) => brokerOrder(node, cluster)).filter((order) => order[0]!.host === 'nats-a');
    const seconds = tally(fromA.map((order) => order[1]!.host));
    expect(seconds.get('nats-b')).toBeGreaterThan(fromA.length / 3);
    expect(seconds.get('nats-c')).toBeGreaterThan(fromA.length / 3);
  });

  it('is the same for a node each time, holds every broker once, and leaves one broker or none as it is', () => {
    const order = brokerOrder('9b1c7a52-node', cluster);
    expect(brokerOrder('9b1c7a52-node', cluster)).toEqual(order);
    expect(order.map((b) => b.host).sort()).toEqual(['nats-a', 'nats-b', 'nats-c']);
    expect(brokerOrder('n1', [cluster[0]!])).toEqual([cluster[0]]);
    expect(brokerOrder('n1', [])).toEqual([]);
  });
});
