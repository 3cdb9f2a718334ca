import { describe, expect, it } from 'vitest';
import { createRegistrationAdmission, type RegistrationAdmission } from './registration-admission.ts';

/** Work that finishes when told to. */
function held(): { promise: Promise<string>; finish: () => void } {
  let finish: () => void = () => undefined;
  const promise = new Promise<string>((resolve) => (finish = () => resolve('done')));
  return { promise, finish };
}

async function refusal(admission: RegistrationAdmission): Promise<{ code: string; retryAfterMs: number }> {
  const error = (await admission.run(async () => 'admitted').catch((e: unknown) => e)) as { code: string; details: { retryAfterMs: number } };
  return { code: error.code, retryAfterMs: error.details.retryAfterMs };
}

/**
 * A storm on a manager that finishes `perSecond` registrations a second whatever the number at once,
 * in steps of 100 ms, with agents always asking: returns the registrations still running, the limit reached.
 */
async function storm(admission: RegistrationAdmission, clock: { ms: number }, options: { perSecond: number; seconds: number }): Promise<Array<{ finish: () => void }>> {
  const running: Array<{ finish: () => void; done: Promise<string> }> = [];
  let owed = 0;
  for (let step = 0; ; step += 1) {
    // Agents ask until one is refused.
    for (;;) {
      const work = held();
      const refusedBefore = admission.refused();
      const done = admission.run(() => work.promise).catch(() => 'refused');
      if (admission.refused() > refusedBefore) break;
      running.push({ finish: work.finish, done });
    }
    if (step === options.seconds * 10) return running;
    clock.ms += 100;
    owed += options.perSecond / 10;
    for (; owed >= 1 && running.length > 0; owed -= 1) {
      const oldest = running.shift()!;
      oldest.finish();
      await oldest.done;
    }
  }
}

describe('registration admission', () => {
  it('runs at most the limit at once and refuses the rest at once as unavailable with a retry-after hint, then admits again', async () => {
    const admission = createRegistrationAdmission({ concurrent: 2, retryAfterMs: 300 });
    const work = held();
    const first = admission.run(() => work.promise);
    const second = admission.run(() => work.promise);
    const refused = await refusal(admission);
    expect(refused.code).toBe('unavailable');
    expect(refused.retryAfterMs).toBeGreaterThanOrEqual(300);
    expect(admission.active()).toBe(2);
    expect(admission.refused()).toBe(1);
    work.finish();
    expect(await Promise.all([first, second])).toEqual(['done', 'done']);
    expect(await admission.run(async () => 'd')).toBe('d');
    expect(admission.active()).toBe(0);
  });

  it('frees the slot of work that failed', async () => {
    const admission = createRegistrationAdmission({ concurrent: 1, retryAfterMs: 300 });
    await expect(admission.run(async () => Promise.reject(new Error('store down')))).rejects.toThrow('store down');
    expect(await admission.run(async () => 'next')).toBe('next');
  });

  it('lowers the number at once to what finishes within the target time on a slow manager (13 s each at 64 at once was past the agents\' 15 s)', async () => {
    const clock = { ms: 0 };
    const admission = createRegistrationAdmission({ concurrent: 64, retryAfterMs: 2000, targetMs: 3000, now: () => clock.ms });
    // A slow manager: 2 registrations a second, however many at once; agents keep asking.
    await storm(admission, clock, { perSecond: 2, seconds: 30 });
    // 2 a second, 3 s each at most: about 6 at once.
    expect(admission.limit()).toBeGreaterThanOrEqual(4);
    expect(admission.limit()).toBeLessThanOrEqual(8);
  });

  it('raises the number at once when registrations are quick, up to the most allowed', async () => {
    let clock = 0;
    const admission = createRegistrationAdmission({ concurrent: 64, retryAfterMs: 2000, targetMs: 3000, now: () => clock });
    for (let i = 0; i < 200; i += 1) {
      clock += 10; // 100 a second
      await admission.run(async () => 'ok');
    }
    expect(admission.limit()).toBe(64);
  });

  it('gives refused agents a place in a line: each hint a slot later at the measured throughput, so they come back as fast as the manager registers', async () => {
    const clock = { ms: 0 };
    const admission = createRegistrationAdmission({ concurrent: 64, retryAfterMs: 2000, targetMs: 3000, now: () => clock.ms });
    // Measured: 5 a second with the limit reached.
    const running = await storm(admission, clock, { perSecond: 5, seconds: 10 });
    const hints: number[] = [];
    for (let i = 0; i < 300; i += 1) hints.push((await refusal(admission)).retryAfterMs);
    // 5 a second, the line half again as fast: a slot every 133 ms, so 300 refused agents are spread over about 40 s.
    expect(hints[0]).toBeGreaterThanOrEqual(2000);
    expect(hints[299]! - hints[0]!).toBeGreaterThan(32_000);
    expect(hints[299]! - hints[0]!).toBeLessThan(48_000);
    expect(hints.every((h, i) => i === 0 || h >= hints[i - 1]!)).toBe(true);
    for (const w of running) w.finish();
  });

  it('gives a source address one place in the line: one client asking 20,000 times pushes honest agents back by one slot, not to ten minutes', async () => {
    const clock = { ms: 0 };
    const admission = createRegistrationAdmission({ concurrent: 64, retryAfterMs: 2000, targetMs: 3000, now: () => clock.ms });
    const running = await storm(admission, clock, { perSecond: 5, seconds: 10 });
    const refusedAs = async (source: string) => ((await admission.run(async () => 'admitted', source).catch((e: unknown) => e)) as { details: { retryAfterMs: number } }).details.retryAfterMs;
    const first = await refusedAs('10.0.0.66');
    for (let i = 0; i < 20_000; i += 1) await refusedAs('10.0.0.66');
    // An honest agent refused next waits about one slot (133 ms at 5 a second) longer than the hostile one's first.
    expect(await refusedAs('10.0.0.7')).toBeLessThan(first + 1000);
    for (const w of running) w.finish();
  });

  it('spreads agents behind one address a slot apart, as if each had its own: 20,000 simulated nodes on 127.0.0.1 came back at one moment', async () => {
    const clock = { ms: 0 };
    const admission = createRegistrationAdmission({ concurrent: 64, retryAfterMs: 2000, targetMs: 3000, now: () => clock.ms });
    const running = await storm(admission, clock, { perSecond: 5, seconds: 10 });
    const refusedAs = async (source: string) => ((await admission.run(async () => 'admitted', source).catch((e: unknown) => e)) as { details: { retryAfterMs: number } }).details.retryAfterMs;
    const hints: number[] = [];
    for (let i = 0; i < 300; i += 1) hints.push(await refusedAs('10.0.0.1'));
    // A slot every 133 ms (5 a second, the line half again as fast): 300 agents over about 40 s, each later than the one before.
    expect(hints[299]! - hints[0]!).toBeGreaterThan(32_000);
    expect(hints[299]! - hints[0]!).toBeLessThan(48_000);
    expect(hints.every((h, i) => i === 0 || h > hints[i - 1]!)).toBe(true);
    for (const w of running) w.finish();
  });

  it('gives at least the shortest hint asked for, also beyond the default longest (a minute)', async () => {
    const admission = createRegistrationAdmission({ concurrent: 1, retryAfterMs: 120_000, now: () => 0 });
    const work = held();
    const running = admission.run(() => work.promise);
    expect((await refusal(admission)).retryAfterMs).toBe(120_000);
    work.finish();
    await running;
  });

  it('gives a hint in ms when nothing finished in the first window and no fewest was set (a line that never moved: NaN)', async () => {
    const clock = { ms: 0 };
    const admission = createRegistrationAdmission({ concurrent: 4, minConcurrent: 0, retryAfterMs: 2000, now: () => clock.ms });
    const work = held();
    const running = Array.from({ length: 4 }, () => admission.run(() => work.promise));
    clock.ms = 1500;
    const { retryAfterMs } = await refusal(admission);
    expect(retryAfterMs).toBeGreaterThanOrEqual(2000);
    expect(retryAfterMs).toBeLessThanOrEqual(60_000);
    work.finish();
    await Promise.all(running);
  });

  it('never tells an agent to wait longer than the longest hint', async () => {
    const clock = 0;
    const admission = createRegistrationAdmission({ concurrent: 1, retryAfterMs: 2000, maxRetryAfterMs: 60_000, now: () => clock });
    const work = held();
    const running = admission.run(() => work.promise);
    let last = 0;
    for (let i = 0; i < 10_000; i += 1) last = (await refusal(admission)).retryAfterMs;
    expect(last).toBe(60_000);
    work.finish();
    await running;
  });
});
