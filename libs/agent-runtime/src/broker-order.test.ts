import { describe, expect, it } from 'vitest';
import { brokerOrder } from './broker-order.ts';

describe('the broker a node tries first', () => {
  const cluster = ['nats-a', 'nats-b', 'nats-c'];

  it('spreads a fleet evenly over the cluster (all of 20,000 went to the first)', () => {
    const firsts = new Map<string, number>();
    for (let i = 0; i < 3000; i += 1) {
      const first = brokerOrder(`node-${i}`, cluster)[0]!;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    expect([...firsts.keys()].sort()).toEqual(cluster);
    for (const count of firsts.values()) expect(count).toBeGreaterThan(900);
  });

  it('is the same for a node each time, and fails over through every other broker in the cluster\'s order', () => {
    const order = brokerOrder('9b1c7a52-node', cluster);
    expect(brokerOrder('9b1c7a52-node', cluster)).toEqual(order);
    expect([...order].sort()).toEqual(cluster);
    const start = cluster.indexOf(order[0]!);
    expect(order).toEqual([...cluster.slice(start), ...cluster.slice(0, start)]);
  });

  it('leaves a single broker, or none, as it is', () => {
    expect(brokerOrder('n1', ['only'])).toEqual(['only']);
    expect(brokerOrder('n1', [])).toEqual([]);
  });
});
