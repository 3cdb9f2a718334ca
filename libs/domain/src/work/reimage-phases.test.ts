import { describe, expect, it } from 'vitest';
import { noEvidence, type ReimageEvidence } from './reimage-evidence.ts';
import { queuedProgress, reimageEffectOnEntry, stepReimage, type ReimagePhase, type ReimagePolicy, type ReimageProgress, type ReimageSignal } from './reimage-phases.ts';

const now = new Date('2026-11-21T10:00:00Z');
const sha = 'ab'.repeat(32);
const policy: ReimagePolicy = {
  timeoutsMs: { draining: 1000, isolating: 2000, rebooting: 3000, installing: 4000, 'health-check': 5000, accepting: 5500, restoring: 6000 },
  maxPowerCycles: 1, hasBmc: true, expectedSha256: sha,
};
// The manager power-cycled the node and then served it the install script: a reported install is believed.
const seen: ReimageEvidence = {
  ...noEvidence(), rebootBy: 'bmc', rebootAckedAt: new Date(now.getTime() - 60_000), powerCycledAt: new Date(now.getTime() - 59_000),
  installBoot: { at: new Date(now.getTime() - 30_000), peer: '10.0.0.5' },
};
const at = (phase: ReimagePhase, powerCycles = 0): ReimageProgress => ({ phase, powerCycles, deadlineAt: null, message: '', evidence: seen, failure: null });

describe('stepReimage', () => {
  it.each<{ from: ReimagePhase; signal: ReimageSignal; to: ReimagePhase; effects: string[]; deadlineMs: number | null }>([
    { from: 'queued', signal: { kind: 'start' }, to: 'draining', effects: ['drain'], deadlineMs: 1000 },
    { from: 'draining', signal: { kind: 'drained' }, to: 'isolating', effects: ['isolate'], deadlineMs: 2000 },
    { from: 'isolating', signal: { kind: 'isolated' }, to: 'rebooting', effects: ['send-command'], deadlineMs: 3000 },
    // Acked: a node with a BMC is power-cycled into PXE through it (the agent only flushed its disks).
    { from: 'rebooting', signal: { kind: 'rebooting' }, to: 'installing', effects: ['power-cycle-pxe'], deadlineMs: 4000 },
    { from: 'installing', signal: { kind: 'installed', sha256: sha }, to: 'health-check', effects: ['check-health'], deadlineMs: 5000 },
    // The agent's ack can be lost while the new image still reports: with the power cycle and the boot seen, that is enough.
    { from: 'rebooting', signal: { kind: 'installed', sha256: sha.toUpperCase() }, to: 'health-check', effects: ['check-health'], deadlineMs: 5000 },
    { from: 'installing', signal: { kind: 'installed', sha256: 'cd'.repeat(32) }, to: 'failed', effects: ['fail-node'], deadlineMs: null },
    { from: 'health-check', signal: { kind: 'healthy' }, to: 'restoring', effects: ['restore'], deadlineMs: 6000 },
    { from: 'restoring', signal: { kind: 'restored' }, to: 'done', effects: [], deadlineMs: null },
    { from: 'health-check', signal: { kind: 'failed', code: 'unhealthy', details: 'gpu lost' }, to: 'failed', effects: ['fail-node'], deadlineMs: null },
    // Before the node went down, a failure leaves it in service: nothing to undo while draining, the isolation while isolating.
    { from: 'draining', signal: { kind: 'timeout' }, to: 'failed', effects: [], deadlineMs: null },
    { from: 'draining', signal: { kind: 'failed', code: 'drain-failed', details: 'drain hook answered 503' }, to: 'failed', effects: [], deadlineMs: null },
    { from: 'isolating', signal: { kind: 'failed', code: 'isolate-failed', details: 'switch unreachable' }, to: 'failed', effects: ['return-node'], deadlineMs: null },
    { from: 'rebooting', signal: { kind: 'failed', code: 'agent-failed', details: 'disk gone' }, to: 'failed', effects: ['fail-node'], deadlineMs: null },
    { from: 'rebooting', signal: { kind: 'timeout' }, to: 'installing', effects: ['power-cycle-pxe'], deadlineMs: 4000 },
    { from: 'installing', signal: { kind: 'timeout' }, to: 'installing', effects: ['power-cycle-pxe'], deadlineMs: 4000 },
  ])('$from + $signal.kind → $to', ({ from, signal, to, effects, deadlineMs }) => {
    const result = stepReimage(at(from), signal, now, policy);
    if ('ignored' in result) throw new Error(result.ignored);
    expect(result.progress.phase).toBe(to);
    expect(result.effects).toEqual(effects);
    expect(result.progress.deadlineAt?.getTime() ?? null).toBe(deadlineMs === null ? null : now.getTime() + deadlineMs);
  });

  it('acceptance-tests the node in its new image before it returns to its tenant (--acceptance-after-reimage); a failed suite fails the node', () => {
    const accepting = stepReimage(at('health-check'), { kind: 'healthy' }, now, { ...policy, acceptance: true });
    expect(accepting).toMatchObject({ progress: { phase: 'accepting', message: 'acceptance testing in the new image' }, effects: ['accept'] });
    expect('progress' in accepting && accepting.progress.deadlineAt?.getTime()).toBe(now.getTime() + 5500);
    expect(stepReimage(at('accepting'), { kind: 'accepted' }, now, policy)).toMatchObject({ progress: { phase: 'restoring' }, effects: ['restore'] });
    expect(stepReimage(at('accepting'), { kind: 'failed', code: 'acceptance-failed', details: 'the node is failed: nvlink' }, now, policy))
      .toMatchObject({ progress: { phase: 'failed', failure: { code: 'acceptance-failed', phase: 'accepting' } }, effects: ['fail-node'] });
    // Without the option (or a node not reimaged), nothing changes.
    expect(stepReimage(at('health-check'), { kind: 'healthy' }, now, policy)).toMatchObject({ progress: { phase: 'restoring' } });
    expect(stepReimage(at('restoring'), { kind: 'accepted' }, now, policy)).toEqual({ ignored: 'accepted does not apply in phase restoring' });
  });

  it('without a BMC the agent reboots by itself, and the planned power cycle is not counted against the node', () => {
    const acked = stepReimage(at('rebooting'), { kind: 'rebooting' }, now, { ...policy, hasBmc: false });
    expect(acked).toMatchObject({ progress: { phase: 'installing', message: 'booting the image' }, effects: [] });
    const cycled = stepReimage(at('rebooting'), { kind: 'rebooting' }, now, policy);
    expect(cycled).toMatchObject({ progress: { phase: 'installing', powerCycles: 0, message: 'power-cycling into PXE through the BMC' } });
  });

  it('power-cycles an unresponsive node only as often as allowed, then fails it with the evidence', () => {
    const result = stepReimage(at('installing', 1), { kind: 'timeout' }, now, policy);
    expect('progress' in result && result.progress).toMatchObject({ phase: 'failed', message: 'timed out in installing', failure: { code: 'timeout', phase: 'installing', details: 'timed out in installing' } });
    const noBmc = stepReimage(at('rebooting'), { kind: 'timeout' }, now, { ...policy, hasBmc: false });
    expect('progress' in noBmc && noBmc.progress.failure).toEqual({ code: 'timeout', phase: 'rebooting', details: 'timed out in rebooting; the node has no BMC to power-cycle it with' });
  });

  it('records why a node failed as a code, the phase and details', () => {
    const result = stepReimage(at('installing'), { kind: 'installed', sha256: 'cd'.repeat(32) }, now, policy);
    expect('progress' in result && result.progress.failure).toMatchObject({ code: 'image-mismatch', phase: 'installing' });
    const unproven = stepReimage({ ...at('installing'), evidence: noEvidence() }, { kind: 'installed', sha256: sha }, now, policy);
    expect('progress' in unproven && unproven.progress).toMatchObject({ phase: 'failed', failure: { code: 'missing-evidence', phase: 'installing' }, evidence: { missing: 'reboot' } });
  });

  it('a restarted manager redoes the effect of the phase it finds a node in: the same table the steps use', () => {
    expect(reimageEffectOnEntry).toEqual({ draining: 'drain', isolating: 'isolate', rebooting: 'send-command', 'health-check': 'check-health', accepting: 'accept', restoring: 'restore' });
  });

  it.each<{ from: ReimagePhase; signal: ReimageSignal }>([
    { from: 'queued', signal: { kind: 'drained' } },
    { from: 'draining', signal: { kind: 'installed', sha256: sha } },
    { from: 'installing', signal: { kind: 'restored' } },
    { from: 'done', signal: { kind: 'timeout' } },
    { from: 'failed', signal: { kind: 'start' } },
  ])('ignores $signal.kind in $from (a late or repeated signal changes nothing)', ({ from, signal }) => {
    expect(stepReimage(at(from), signal, now, policy)).toHaveProperty('ignored');
  });

  it('starts queued with no deadline', () => {
    expect(queuedProgress()).toMatchObject({ phase: 'queued', deadlineAt: null, powerCycles: 0 });
  });
});
