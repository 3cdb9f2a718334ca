import { afterEach, describe, expect, it } from 'vitest';
import { FleetEvents, type FleetEvent } from './fleet-events.ts';

const event: FleetEvent = { type: 'tenant-deleted', tenantId: 't1', at: new Date('2026-11-01T00:00:00Z') };

const warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);
afterEach(() => {
  process.off('warning', onWarning);
  warnings.length = 0;
});

describe('FleetEvents', () => {
  it('delivers an event to every listener when one of them throws, and reports the failure', async () => {
    const failures: Array<{ error: unknown; type: string }> = [];
    const events = new FleetEvents({ onListenerError: (error, e) => failures.push({ error, type: e.type }) });
    const seen: string[] = [];
    events.on(() => seen.push('first'));
    events.on(() => {
      throw new Error('listener bug');
    });
    events.on(async () => {
      await Promise.resolve();
      throw new Error('async listener bug');
    });
    events.on(() => seen.push('last'));
    expect(() => events.emit(event)).not.toThrow();
    expect(seen).toEqual(['first', 'last']);
    await expect.poll(() => failures.length).toBe(2);
    expect(failures.map((f) => [String(f.error), f.type])).toEqual([['Error: listener bug', 'tenant-deleted'], ['Error: async listener bug', 'tenant-deleted']]);
  });

  it('holds as many listeners as the manager has without a MaxListenersExceededWarning, and forgets each on unsubscribe', async () => {
    process.on('warning', onWarning);
    const events = new FleetEvents();
    const offs = Array.from({ length: 50 }, () => events.on(() => undefined));
    const seen: number[] = [];
    const offLast = events.on(() => seen.push(1));
    events.emit(event);
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
    expect(seen).toEqual([1]);
    for (const off of offs) off();
    offLast();
    expect(events.listenerCount).toBe(0);
  });
});
