// A registration storm played on a fake clock: agents that follow the manager's hints as the real agent does
// (retryDelay: full jitter, the hint as a floor), against a manager that finishes a given number a second, and the
// admission between them. What an operator notices is how long the storm takes.
import { retryDelay } from '@metalfleet/domain';
import { describe, expect, it } from 'vitest';
import { createRegistrationAdmission } from './registration-admission.ts';

/** A small seeded random source, so that a run is the same each time. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Events by time (a binary heap). */
class Timeline {
  private readonly heap: Array<{ at: number; run: () => Promise<void> }> = [];
  add(at: number, run: () => Promise<void>): void {
    const heap = this.heap;
    heap.push({ at, run });
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= heap[i]!.at) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }
  next(): { at: number; run: () => Promise<void> } | undefined {
    const heap = this.heap;
    const first = heap[0];
    const last = heap.pop();
    if (first === undefined || last === undefined || heap.length === 0) return first;
    heap[0] = last;
    for (let i = 0; ; ) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && heap[left]!.at < heap[least]!.at) least = left;
      if (right < heap.length && heap[right]!.at < heap[least]!.at) least = right;
      if (least === i) break;
      [heap[least], heap[i]] = [heap[i]!, heap[least]!];
      i = least;
    }
    return first;
  }
}

interface Storm {
  agents: number;
  /** Agents power on evenly over this many seconds. */
  startingS: number;
  /** Registrations the manager finishes a second at a time (one after another, queueing beyond). */
  perSecond: (atMs: number) => number;
  /** The address each agent asks from. */
  source: (agent: number) => string;
}

/** Seconds until every agent is registered, and the refusals per agent meanwhile (each a call the agent made). */
async function playStorm(storm: Storm): Promise<{ seconds: number; refusalsPerAgent: number }> {
  const clock = { ms: 0 };
  const admission = createRegistrationAdmission({ concurrent: 64, retryAfterMs: 2000, now: () => clock.ms });
  const random = seeded(21);
  const timeline = new Timeline();
  let managerFreeAt = 0;
  let registered = 0;
  const ask = (agent: number, attempt: number) => async () => {
    let finish: () => void = () => undefined;
    const work = new Promise<void>((resolve) => (finish = resolve));
    const refusedBefore = admission.refused();
    const running = admission.run(() => work, storm.source(agent));
    if (admission.refused() > refusedBefore) {
      const error = (await running.catch((e: unknown) => e)) as { details: { retryAfterMs: number } };
      const delay = retryDelay(attempt, { initialMs: 1000, maxMs: 30_000 }, random(), error.details.retryAfterMs);
      timeline.add(clock.ms + delay, ask(agent, attempt + 1));
      return;
    }
    managerFreeAt = Math.max(managerFreeAt, clock.ms) + 1000 / storm.perSecond(clock.ms);
    timeline.add(managerFreeAt, async () => {
      finish();
      await running;
      registered += 1;
    });
  };
  for (let agent = 0; agent < storm.agents; agent += 1) timeline.add((agent / storm.agents) * storm.startingS * 1000, ask(agent, 0));
  for (let event = timeline.next(); event !== undefined && registered < storm.agents; event = timeline.next()) {
    clock.ms = event.at;
    await event.run();
  }
  return { seconds: clock.ms / 1000, refusalsPerAgent: admission.refused() / storm.agents };
}

describe('a registration storm paced by the admission', () => {
  // The manager is starved while the nodes power on (2 a second: in the 20,000-node bench the simulators took the
  // CPU as they started), then finishes 20 a second. At best: 60 in the first 30 s, the other 2,940 in 147 s.
  const slowThenFast = (atMs: number) => (atMs < 30_000 ? 2 : 20);
  const best = 30 + (3000 - 60) / 20;
  // Room for the hints given while it was slow: agents told to come back later cannot be called sooner.
  const allowed = best * 1.35;

  it('keeps up with a manager that became faster, when every agent asks from one address (a NAT, a simulator)', async () => {
    // A line in seconds kept the spacing of the throughput measured early, up to 10 min: 724 s (now 223 s).
    const { seconds, refusalsPerAgent } = await playStorm({ agents: 3000, startingS: 30, perSecond: slowThenFast, source: () => '127.0.0.1' });
    expect(seconds).toBeLessThan(allowed);
    // Refusals cost both sides a call: agents do not come back again and again (1.45 each before, 2.2 now).
    expect(refusalsPerAgent).toBeLessThan(3);
  });

  it('keeps up with a manager that became faster, when every agent has its own address', async () => {
    const { seconds, refusalsPerAgent } = await playStorm({ agents: 3000, startingS: 30, perSecond: slowThenFast, source: (agent) => `10.0.${agent >> 8}.${agent & 255}` });
    expect(seconds).toBeLessThan(allowed);
    expect(refusalsPerAgent).toBeLessThan(3);
  });

  it('registers a storm on a manager that is slow throughout at about its pace', async () => {
    const { seconds, refusalsPerAgent } = await playStorm({ agents: 1000, startingS: 30, perSecond: () => 5, source: () => '127.0.0.1' });
    expect(seconds).toBeLessThan((1000 / 5) * 1.3);
    expect(refusalsPerAgent).toBeLessThan(3);
  });
});
