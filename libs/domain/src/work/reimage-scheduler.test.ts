import { describe, expect, it } from 'vitest';
import { pickReimageStarts, type QueuedReimage, type RunningReimage } from './reimage-scheduler.ts';

const q = (nodeId: string, rack: string, extra: Partial<QueuedReimage> = {}): QueuedReimage =>
  ({ operationId: 'op', nodeId, rack, tenant: null, priority: 0, urgent: false, order: Number(nodeId.replace(/\D/g, '')), ...extra });
const ids = (picked: QueuedReimage[]) => picked.map((p) => p.nodeId);
const limits = { global: 10, perRack: 2, perTenant: 3 };

describe('pickReimageStarts', () => {
  it('fills every rack up to its limit, in queue order', () => {
    expect(ids(pickReimageStarts([q('n1', 'r1'), q('n2', 'r1'), q('n3', 'r1'), q('n4', 'r2')], [], limits, true))).toEqual(['n1', 'n2', 'n4']);
  });

  it('counts nodes already down against the limits', () => {
    const running: RunningReimage[] = [{ nodeId: 'x', rack: 'r1', tenant: null }];
    expect(ids(pickReimageStarts([q('n1', 'r1'), q('n2', 'r1')], running, limits, true))).toEqual(['n1']);
    expect(ids(pickReimageStarts([q('n1', 'r1')], running, { ...limits, global: 1 }, true))).toEqual([]);
  });

  it('holds a tenant to its own limit', () => {
    const queued = ['n1', 'n2', 'n3', 'n4'].map((n, i) => q(n, `r${i}`, { tenant: 'acme' }));
    expect(ids(pickReimageStarts(queued, [], limits, true))).toEqual(['n1', 'n2', 'n3']);
  });

  it('starts higher priority, then urgent work first', () => {
    const queued = [q('n1', 'r1'), q('n2', 'r2', { urgent: true }), q('n3', 'r3', { priority: 5 })];
    expect(ids(pickReimageStarts(queued, [], { ...limits, global: 2 }, true))).toEqual(['n3', 'n2']);
  });

  it('outside a maintenance window starts only urgent work', () => {
    expect(ids(pickReimageStarts([q('n1', 'r1'), q('n2', 'r2', { urgent: true })], [], limits, false))).toEqual(['n2']);
  });

  it('never starts a node twice (queued in two operations, or already running)', () => {
    const running: RunningReimage[] = [{ nodeId: 'n2', rack: 'r2', tenant: null }];
    expect(ids(pickReimageStarts([q('n1', 'r1'), q('n1', 'r1', { operationId: 'op2' }), q('n2', 'r2')], running, limits, true))).toEqual(['n1']);
  });

  it('a batch of 1,000 nodes in 25 racks never has more than the rack limit down at once', () => {
    const queued = Array.from({ length: 1000 }, (_, i) => q(`n${i}`, `rack-${i % 25}`));
    let running: Array<RunningReimage & { left: number }> = [];
    let waiting = queued;
    let maxPerRack = 0;
    let rounds = 0;
    while (waiting.length > 0 || running.length > 0) {
      rounds += 1;
      const starts = pickReimageStarts(waiting, running, { global: 100, perRack: 3, perTenant: 1000 }, true);
      const started = new Set(starts.map((s) => s.nodeId));
      waiting = waiting.filter((w) => !started.has(w.nodeId));
      running = [...running, ...starts.map((s, i) => ({ nodeId: s.nodeId, rack: s.rack, tenant: s.tenant, left: 1 + (i % 3) }))];
      const perRack = new Map<string, number>();
      for (const r of running) perRack.set(r.rack, (perRack.get(r.rack) ?? 0) + 1);
      maxPerRack = Math.max(maxPerRack, ...perRack.values());
      // Each round, some reimages finish.
      running = running.map((r) => ({ ...r, left: r.left - 1 })).filter((r) => r.left > 0);
    }
    expect(maxPerRack).toBe(3);
    expect(rounds).toBeLessThan(1000);
  });
});
