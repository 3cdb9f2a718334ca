import { describe, expect, it } from 'vitest';
import { nodeStates, type NodeState } from './node.ts';
import { boundedReason, lifecycleEvents, maxReasonChars, transition, transitionContext, type LifecycleEvent } from './node-lifecycle.ts';

// Every allowed transition, written out; every other (state, event) pair must be refused.
const allowed: Array<[NodeState, LifecycleEvent, NodeState]> = [
  ['discovered', 'inspect', 'inspecting'],
  ['inspecting', 'inspection-passed', 'available'],
  ['inspecting', 'inspection-failed', 'failed'],
  ['inspecting', 'accept', 'accepting'],
  ['accepting', 'acceptance-passed', 'available'],
  ['accepting', 'acceptance-failed', 'repair'],
  ['accepting', 'fail', 'failed'],
  ['available', 'allocate', 'allocated'],
  ['allocated', 'provision', 'provisioning'],
  ['active', 'provision', 'provisioning'],
  ['provisioning', 'provisioned', 'active'],
  ['provisioning', 'provision-failed', 'failed'],
  ['provisioning', 'provision-aborted', 'allocated'],
  ['allocated', 'release', 'releasing'],
  ['provisioning', 'release', 'releasing'],
  ['active', 'release', 'releasing'],
  ['releasing', 'released', 'available'],
  ['inspecting', 'fail', 'failed'],
  ['available', 'fail', 'failed'],
  ['allocated', 'fail', 'failed'],
  ['provisioning', 'fail', 'failed'],
  ['active', 'fail', 'failed'],
  ['releasing', 'fail', 'failed'],
  ['provisioning', 'accept', 'accepting'],
  ['failed', 'repair', 'repair'],
  ['accepting', 'repair', 'repair'],
  ['failed', 'retry', 'inspecting'],
  ['repair', 'repaired', 'inspecting'],
  ...nodeStates.filter((s) => s !== 'retired').map((s): [NodeState, LifecycleEvent, NodeState] => [s, 'retire', 'retired']),
];

const key = (s: NodeState, e: LifecycleEvent) => `${s} + ${e}`;
const allowedKeys = new Map(allowed.map(([s, e, to]) => [key(s, e), to]));
const refused = nodeStates.flatMap((s) => lifecycleEvents.map((e): [NodeState, LifecycleEvent] => [s, e])).filter(([s, e]) => !allowedKeys.has(key(s, e)));

describe('node lifecycle', () => {
  it.each(allowed)('%s + %s → %s', (from, event, to) => {
    expect(transition(from, event)).toMatchObject({ ok: true, from, to });
  });

  it.each(refused)('%s + %s is refused', (from, event) => {
    const result = transition(from, event);
    expect(result.ok).toBe(false);
    expect(result).toMatchObject({ reason: expect.stringContaining(`not allowed in state ${from}`) });
  });

  it('takes a tenant\'s node accepted after its reimage back to its tenant, or fails it as a serving node (replaced)', () => {
    const context = transitionContext([{ event: 'provision', from: 'active' }, { event: 'accept', from: 'provisioning' }]);
    expect(transition('accepting', 'acceptance-passed', context)).toMatchObject({ ok: true, to: 'active', effects: ['configure-tenant-network'] });
    expect(transition('accepting', 'acceptance-failed', context)).toMatchObject({ ok: true, to: 'failed', effects: ['isolate-from-tenant', 'request-replacement'] });
    expect(transition('accepting', 'fail', context)).toMatchObject({ ok: true, to: 'failed', effects: ['isolate-from-tenant', 'request-replacement'] });
    // One accepted after inspection (a later accept than the tenant's) goes to the pool, or to repair.
    const fromInspection = transitionContext([{ event: 'accept', from: 'provisioning' }, { event: 'accept', from: 'inspecting' }]);
    expect(transition('accepting', 'acceptance-passed', fromInspection)).toMatchObject({ ok: true, to: 'available', effects: [] });
    expect(transition('accepting', 'acceptance-failed', fromInspection)).toMatchObject({ ok: true, to: 'repair', effects: ['open-repair-ticket'] });
    expect(transition('accepting', 'fail', fromInspection)).toMatchObject({ ok: true, to: 'failed', effects: [] });
  });

  it('covers every (state, event) pair', () => {
    expect(allowed.length + refused.length).toBe(nodeStates.length * lifecycleEvents.length);
  });

  it.each([
    ['active', 'fail', ['isolate-from-tenant', 'request-replacement']],
    ['available', 'fail', []],
    ['provisioning', 'provision-failed', ['isolate-from-tenant', 'request-replacement']],
    ['available', 'allocate', []],
    ['provisioning', 'provisioned', ['configure-tenant-network']],
    ['active', 'provision', ['isolate-from-tenant']],
    ['provisioning', 'provision-aborted', []],
    ['discovered', 'inspect', []],
    ['failed', 'repair', ['open-repair-ticket']],
    ['accepting', 'acceptance-failed', ['open-repair-ticket']],
    ['active', 'retire', ['isolate-from-tenant', 'revoke-certificates', 'power-off']],
  ] as Array<[NodeState, LifecycleEvent, string[]]>)('%s + %s has effects %j', (from, event, effects) => {
    expect(transition(from, event)).toMatchObject({ ok: true, effects });
  });

  it.each([
    [[{ event: 'allocate', from: 'available' }, { event: 'provision', from: 'active' }], 'active', ['configure-tenant-network']],
    [[{ event: 'provision', from: 'active' }, { event: 'provisioned', from: 'provisioning' }, { event: 'provision', from: 'allocated' }], 'allocated', []],
    [[], 'allocated', []],
  ] as Array<[Array<{ event: LifecycleEvent; from: NodeState }>, NodeState, string[]]>)('provision-aborted after %j goes back to %s with effects %j', (history, to, effects) => {
    expect(transition('provisioning', 'provision-aborted', transitionContext(history))).toMatchObject({ ok: true, to, effects });
  });
});

describe('a transition\'s reason', () => {
  it('is kept whole up to its bound, cut with what was left out beyond it', () => {
    expect(boundedReason('disk 1 SMART failed')).toBe('disk 1 SMART failed');
    const whole = 'x'.repeat(maxReasonChars);
    expect(boundedReason(whole)).toBe(whole);
    const cut = boundedReason('y'.repeat(10_000), 'the rest in the run');
    expect(cut.length).toBeLessThanOrEqual(maxReasonChars);
    expect(cut.length).toBeGreaterThan(maxReasonChars - 10);
    expect(cut).toMatch(/^y+… \[\d+ characters left out; the rest in the run\]$/);
    expect(Number(/\[(\d+) characters/.exec(cut)?.[1]) + cut.indexOf('…')).toBe(10_000);
  });
});
