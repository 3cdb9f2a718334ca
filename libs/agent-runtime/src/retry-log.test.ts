import { describe, expect, it } from 'vitest';
import { createRetryLog, quietFailureMs, repeatFailureMs } from './retry-log.ts';

describe('the retry log', () => {
  it('keeps the first seconds of failures quiet, then says a lasting one once, and how long it lasted', () => {
    let t = 0;
    const log = createRetryLog(() => t, new Map());
    expect(log.failed('ECONNREFUSED')).toBe('debug');
    t = quietFailureMs - 1;
    expect(log.failed('ECONNREFUSED')).toBe('debug');
    t = quietFailureMs;
    expect(log.failed('ECONNREFUSED')).toBe('warn');
    t += 5_000;
    expect(log.failed('ECONNREFUSED')).toBe('debug');
    expect(log.failed('ENOENT token file')).toBe('warn');
    t += repeatFailureMs;
    expect(log.failed('ECONNREFUSED')).toBe('warn');
    expect(log.recovered()).toEqual({ afterMs: repeatFailureMs + quietFailureMs + 5_000, failures: 6 });
    expect(log.recovered()).toBeNull();
  });

  it('says a second outage too, however soon after the first (hostile review)', () => {
    let t = 0;
    const said = new Map<string, number>();
    const log = createRetryLog(() => t, said);
    log.failed('ECONNREFUSED');
    t = quietFailureMs;
    expect(log.failed('ECONNREFUSED')).toBe('warn');
    expect(log.recovered()).not.toBeNull();
    t += 60_000;
    log.failed('ECONNREFUSED');
    t += quietFailureMs;
    expect(log.failed('ECONNREFUSED')).toBe('warn');
    expect(log.recovered()).toEqual({ afterMs: quietFailureMs, failures: 2 });
  });

  it('says nothing of an outage that ended while it was quiet', () => {
    let t = 0;
    const log = createRetryLog(() => t, new Map());
    log.failed('ECONNREFUSED');
    t = 3_000;
    log.failed('ECONNREFUSED');
    expect(log.recovered()).toBeNull();
  });

  it('says what an operator must act on at once', () => {
    const log = createRetryLog(() => 0, new Map());
    expect(log.failed('pending-approval conflict 7', true)).toBe('warn');
  });

  it('says a reason once per process, however many nodes share it', () => {
    let t = quietFailureMs;
    const said = new Map<string, number>();
    const nodes = Array.from({ length: 1000 }, () => createRetryLog(() => t, said));
    for (const node of nodes) node.failed('ECONNREFUSED');
    t *= 2;
    expect(nodes.map((n) => n.failed('ECONNREFUSED')).filter((l) => l === 'warn')).toHaveLength(1);
    expect(nodes.map((n) => n.recovered()).filter((r) => r !== null)).toHaveLength(1);
  });
});
