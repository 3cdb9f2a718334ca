import { describe, expect, it } from 'vitest';
import { fairShare, rebalance, shardCount, shardLease, shardOf, singletonLease } from './shards.ts';

describe('shards', () => {
  it('puts a node in the same shard every time, and spreads 10,000 node ids over all 256 about evenly', () => {
    const id = '3f0c9a2e-8b1d-4c5e-9f00-1234567890ab';
    expect(shardOf(id)).toBe(shardOf(id));
    const counts = new Array<number>(shardCount).fill(0);
    for (let i = 0; i < 10_000; i += 1) counts[shardOf(`node-${i}-${(i * 7919) % 10007}`)]! += 1;
    expect(Math.min(...counts)).toBeGreaterThan(15);
    expect(Math.max(...counts)).toBeLessThan(70);
  });

  it.each([
    [1, 256], [2, 128], [3, 86], [5, 52], [256, 1], [300, 1], [0, 256],
  ])('%i live replicas: each holds at most %i shards', (replicas, share) => {
    expect(fairShare(replicas)).toBe(share);
  });

  it.each([
    // held, free, replicas → take, release
    [[], [0, 1, 2, 3], 2, 4, [0, 1], []],
    [[0, 1], [2, 3], 2, 4, [], []],
    [[0, 1, 2, 3], [], 2, 4, [], [3, 2]],
    [[0], [1, 2, 3], 1, 4, [1, 2, 3], []],
    [[0, 1, 2], [3], 3, 4, [], [2]],
  ])('holding %j with %j free among %i replicas of %i shards: take %j, give back %j', (held, free, replicas, shards, take, release) => {
    expect(rebalance(held, free, replicas, shards)).toEqual({ take, release });
  });

  it('names leases so that shards and singletons never collide', () => {
    expect(shardLease(7)).toBe('shard/7');
    expect(singletonLease('fabric-reconciler')).toBe('singleton/fabric-reconciler');
  });
});
