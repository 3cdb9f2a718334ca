import { describe, expect, it } from 'vitest';
import { emptyInventory } from '../inventory.ts';
import { cohortsOf, type Cohorts } from './cohorts.ts';
import { failureRates, failureTrend, type FailureEvent } from './failure-rate.ts';

const now = new Date('2026-11-21T12:00:00Z');
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000);
const day = 24 * 3_600_000;

const cohorts = (rack: string, driver = '550.54.15'): Cohorts => ({
  fleet: 'fleet', pool: 'spares', rack, tenant: 'none', vendor: 'Supermicro', model: 'SYS-821GE', gpuModel: 'H100', bios: '2.1', vbios: '96.00.89', driver, firmware: '1.0',
});
// Rack r1 has 10 nodes, r2 has 4.
const population = [
  ...Array.from({ length: 10 }, (_, i) => ({ nodeId: `a${i}`, cohorts: cohorts('r1') })),
  ...Array.from({ length: 4 }, (_, i) => ({ nodeId: `b${i}`, cohorts: cohorts('r2', '535.161.08') })),
];
const failure = (nodeId: string, at: Date, code = 'xid-79', rack = nodeId.startsWith('a') ? 'r1' : 'r2'): FailureEvent =>
  ({ nodeId, at, kind: 'critical-condition', code, cohorts: cohorts(rack, rack === 'r1' ? '550.54.15' : '535.161.08') });

describe('failureRates', () => {
  it.each<{ name: string; events: FailureEvent[]; by: 'rack' | 'driver' | 'fleet'; expected: Array<[string, number, number, number]> }>([
    { name: 'no failures: every cohort at 0', events: [], by: 'rack', expected: [['r1', 10, 0, 0], ['r2', 4, 0, 0]] },
    {
      name: 'distinct nodes, not events: one node failing three times is one failed node',
      events: [failure('a1', hoursAgo(1)), failure('a1', hoursAgo(2)), failure('a1', hoursAgo(3)), failure('b0', hoursAgo(5))],
      by: 'rack', expected: [['r2', 4, 1, 1], ['r1', 10, 1, 3]],
    },
    {
      name: 'only the window counts: 25 h ago and in the future are out',
      events: [failure('a1', hoursAgo(25)), failure('a2', new Date(now.getTime() + 1000)), failure('a3', hoursAgo(23.9))],
      by: 'rack', expected: [['r1', 10, 1, 1], ['r2', 4, 0, 0]],
    },
    {
      name: 'grouped by driver version, and the whole fleet',
      events: [failure('b0', hoursAgo(1)), failure('b1', hoursAgo(1)), failure('a0', hoursAgo(1))],
      by: 'driver', expected: [['535.161.08', 4, 2, 2], ['550.54.15', 10, 1, 1]],
    },
    { name: 'the fleet', events: [failure('b0', hoursAgo(1)), failure('a0', hoursAgo(1))], by: 'fleet', expected: [['fleet', 14, 2, 2]] },
  ])('$name', ({ events, by, expected }) => {
    const rates = failureRates(events, population, { by, windowMs: day, now });
    expect(rates.map((r) => [r.cohort, r.nodes, r.failedNodes, r.failures])).toEqual(expected);
    for (const r of rates) expect(r.rate).toBeCloseTo(r.failedNodes / r.nodes);
  });

  it('counts a bad batch\'s acceptance failures as failures, and its repairs beside them (not as failures)', () => {
    const events: FailureEvent[] = [
      { ...failure('b0', hoursAgo(3)), kind: 'repaired', code: 'repaired' },
      { ...failure('b0', hoursAgo(2)), kind: 'acceptance-failed', code: 'acceptance' },
      { ...failure('b1', hoursAgo(2)), kind: 'repaired', code: 'repaired' },
    ];
    const [worst, other] = failureRates(events, population, { by: 'driver', windowMs: day, now });
    expect(worst).toMatchObject({ cohort: '535.161.08', failedNodes: 1, failures: 1, acceptanceFailures: 1, repairs: 2 });
    expect(other).toMatchObject({ cohort: '550.54.15', failures: 0, acceptanceFailures: 0, repairs: 0 });
    expect(failureTrend(events, 14, day, 1, now)).toEqual([expect.objectContaining({ failures: 1, failedNodes: 1 })]);
  });

  it('estimates MTBF as node-hours in the window per failure', () => {
    const [r1] = failureRates([failure('a1', hoursAgo(1)), failure('a2', hoursAgo(2))], population, { by: 'rack', windowMs: day, now });
    expect(r1).toMatchObject({ cohort: 'r1', mtbfHours: (10 * 24) / 2 });
    expect(failureRates([], population, { by: 'rack', windowMs: day, now })[0]?.mtbfHours).toBeNull();
  });

  it('counts each node\'s hours from when it joined, and shows no MTBF under 100 node-hours (issue 23: "60 h" for nodes minutes old)', () => {
    const joined = (h: number) => population.map((m) => ({ ...m, since: hoursAgo(h) }));
    const events = [failure('a1', hoursAgo(0.1)), failure('a2', hoursAgo(0.05))];
    // 10 nodes of rack r1, 12 h old: 120 node-hours, 2 failures.
    expect(failureRates(events, joined(12), { by: 'rack', windowMs: day, now })[0]).toMatchObject({ cohort: 'r1', mtbfHours: 60 });
    // 10 nodes 20 minutes old: 3.3 node-hours, too few to say anything.
    expect(failureRates(events, joined(1 / 3), { by: 'rack', windowMs: day, now })[0]).toMatchObject({ cohort: 'r1', failures: 2, mtbfHours: null });
    // Joined before the window: the whole window.
    expect(failureRates(events, joined(48), { by: 'rack', windowMs: day, now })[0]).toMatchObject({ mtbfHours: 120 });
  });

  it('ignores failures of cohorts that have no nodes now (a rack taken out)', () => {
    expect(failureRates([failure('z1', hoursAgo(1), 'xid-79', 'r9')], population, { by: 'rack', windowMs: day, now }).map((r) => r.cohort)).toEqual(['r1', 'r2']);
  });
});

describe('cohortsOf', () => {
  it('reads the cohorts from the inventory; mixed GPUs count where most are; blanks are "unknown"', () => {
    const inventory = emptyInventory();
    inventory.system = { ...inventory.system, vendor: 'Supermicro', model: 'SYS-821GE', biosVersion: '2.1', bmcFirmwareVersion: '' };
    const gpu = { index: 0, model: 'H100', uuid: '', serial: '', vbiosVersion: '96.00.89', driverVersion: '550.54.15', cudaVersion: '12.4', pciBusId: '', memoryBytes: 0 };
    inventory.gpus = [gpu, { ...gpu, index: 1 }, { ...gpu, index: 2, model: 'A100', driverVersion: '535.161.08' }] as typeof inventory.gpus;
    expect(cohortsOf({ rack: 'r1', tenant: null, pool: '' }, inventory)).toEqual({
      fleet: 'fleet', pool: 'unknown', rack: 'r1', tenant: 'none', vendor: 'Supermicro', model: 'SYS-821GE', gpuModel: 'H100', bios: '2.1', vbios: '96.00.89', driver: '550.54.15', firmware: 'unknown',
    });
    expect(cohortsOf({ rack: '', tenant: 't1', pool: 'training' }, emptyInventory())).toMatchObject({ rack: 'unknown', tenant: 't1', gpuModel: 'none', driver: 'none' });
  });
});

describe('failureTrend', () => {
  it('counts failures and distinct failed nodes per day, oldest first, empty days included', () => {
    const events = [failure('a1', hoursAgo(1)), failure('a1', hoursAgo(2)), failure('a2', hoursAgo(3)), failure('b0', hoursAgo(30)), failure('b1', hoursAgo(24 * 5))];
    const trend = failureTrend(events, 14, day, 3, now);
    expect(trend.map((p) => [p.at.toISOString(), p.failures, p.failedNodes])).toEqual([
      ['2026-11-19T00:00:00.000Z', 0, 0], ['2026-11-20T00:00:00.000Z', 1, 1], ['2026-11-21T00:00:00.000Z', 3, 2],
    ]);
    expect(trend[2]?.rate).toBeCloseTo(2 / 14);
  });
});
