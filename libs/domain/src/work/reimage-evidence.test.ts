import { describe, expect, it } from 'vitest';
import { noEvidence } from './reimage-evidence.ts';
import { stepReimage, type ReimagePolicy, type ReimageProgress, type ReimageSignal } from './reimage-phases.ts';

const sha = 'ab'.repeat(32);
const policy: ReimagePolicy = {
  timeoutsMs: { draining: 1000, isolating: 1000, rebooting: 60_000, installing: 60_000, 'health-check': 1000, accepting: 1000, restoring: 1000 },
  maxPowerCycles: 2, hasBmc: true, expectedSha256: sha,
};
// A fake clock: second s of the reimage.
const t = (s: number) => new Date(Date.UTC(2026, 10, 27, 11, 0, s));
const iso = (s: number) => t(s).toISOString();

type Step = [seconds: number, signal: ReimageSignal];
const ack = (s: number): Step => [s, { kind: 'rebooting', at: t(s) }];
const cycled = (s: number): Step => [s, { kind: 'power-cycled', at: t(s) }];
const fetched = (s: number, peer = '10.0.0.5'): Step => [s, { kind: 'install-boot-served', at: t(s), peer }];
const registered = (s: number): Step => [s, { kind: 'install-registered', at: t(s) }];
const installed = (s: number): Step => [s, { kind: 'installed', sha256: sha }];
const timeout = (s: number): Step => [s, { kind: 'timeout' }];

/** Walks a node in `rebooting` through the steps; a step that does not apply leaves it where it is. */
function walk(steps: Step[], hasBmc: boolean): ReimageProgress {
  let progress: ReimageProgress = { phase: 'rebooting', powerCycles: 0, deadlineAt: t(60), message: 'rebooting into PXE', evidence: noEvidence(), failure: null };
  for (const [s, signal] of steps) {
    const result = stepReimage(progress, signal, t(s), { ...policy, hasBmc });
    if ('progress' in result) progress = result.progress;
  }
  return progress;
}

const refused = 'reported installed but the manager never saw it boot the install image';
const unverified = 'not verified by the manager: the node has no BMC, so every sign of this reimage, from the reboot ack to the result, came from the node itself';

describe('a reported install is believed only with the manager\'s own evidence of the reboot', () => {
  it.each<{ name: string; hasBmc: boolean; steps: Step[]; phase: string; missing: string | null; message?: string }>([
    { name: 'BMC: power-cycled by the manager, then the install script fetched', hasBmc: true, steps: [ack(1), cycled(2), fetched(30), installed(90)], phase: 'health-check', missing: null },
    { name: 'BMC: the agent reports installed, no fetch after the power cycle (a tenant forging the result)', hasBmc: true, steps: [ack(1), cycled(2), installed(3)],
      phase: 'failed', missing: 'install-boot', message: `installing: ${refused}: no boot-script fetch after the power cycle at ${iso(2)}` },
    { name: 'BMC: the tenant fetched its own boot script before the power cycle', hasBmc: true, steps: [fetched(1, '203.0.113.9'), ack(2), cycled(3), installed(4)],
      phase: 'failed', missing: 'install-boot', message: `installing: ${refused}: no boot-script fetch after the power cycle at ${iso(3)} (the last one, at ${iso(1)} from 203.0.113.9, came before it)` },
    { name: 'BMC: installed reported after the ack, before the manager power-cycled it', hasBmc: true, steps: [ack(1), fetched(2), installed(3)],
      phase: 'failed', missing: 'power-cycle', message: `installing: ${refused}: the manager never power-cycled it through its BMC` },
    { name: 'BMC: never acked; power-cycled after the timeout, then booted the install image', hasBmc: true, steps: [timeout(60), cycled(60), fetched(80), installed(120)],
      phase: 'health-check', missing: null },
    { name: 'BMC: power-cycled again after a timeout; the fetch before the second cycle no longer counts', hasBmc: true,
      steps: [ack(1), cycled(2), fetched(30), timeout(62), cycled(62), installed(70)],
      phase: 'failed', missing: 'install-boot', message: `installing: ${refused}: no boot-script fetch after the power cycle at ${iso(62)} (the last one, at ${iso(30)} from 10.0.0.5, came before it)` },
    { name: 'BMC: power-cycled again and booted again', hasBmc: true, steps: [ack(1), cycled(2), fetched(30), timeout(62), cycled(62), fetched(80), installed(90)],
      phase: 'health-check', missing: null },
    { name: 'no BMC: the agent acked the reboot, then the install script fetched', hasBmc: false, steps: [ack(1), fetched(5), installed(30)], phase: 'health-check', missing: null },
    { name: 'no BMC: installed reported without any fetch', hasBmc: false, steps: [ack(1), installed(2)],
      phase: 'failed', missing: 'install-boot', message: `installing: ${refused}: no boot-script fetch after the agent acknowledged the reboot at ${iso(1)}` },
    // A report after the fetch is no reboot ack (it comes from the install boot): without the install token's registration, nothing shows the reboot.
    { name: 'no BMC: a fetch before the ack does not count', hasBmc: false, steps: [fetched(1), ack(2), installed(3)], phase: 'failed', missing: 'reboot' },
    // The ack waited in the broker session of a replica killed -9; the first report the manager took came from the
    // install boot (CI, replica-takeover: "no boot-script fetch after the agent acknowledged the reboot", the fetch 0.14 s before).
    { name: 'no BMC: the ack late, the install boot\'s report first: judged as an ack lost', hasBmc: false,
      steps: [fetched(5), registered(6), ack(8), installed(30), ack(31)], phase: 'health-check', missing: null,
      message: `checking health in the new image; the agent's reboot ack did not come first (lost with its spool, or held by a replica that died): believed on the install script served at ${iso(5)} and the registration with its install token at ${iso(6)}; ${unverified}` },
    { name: 'installed straight away: never acked, never power-cycled', hasBmc: false, steps: [fetched(1), installed(2)],
      phase: 'failed', missing: 'reboot', message: `rebooting: ${refused}: it never acknowledged the reboot and the manager never power-cycled it` },
    // The agent's ack went with its spool (kept there past the reboot, the disk then rewritten): the install boot and the
    // registration with its single-use install token, both after the command was sent, are what the manager saw.
    { name: 'no BMC: the ack lost, the install script fetched and its install token registered, then installed', hasBmc: false,
      steps: [fetched(5), registered(20), installed(30)], phase: 'health-check', missing: null,
      message: `checking health in the new image; the agent's reboot ack did not come first (lost with its spool, or held by a replica that died): believed on the install script served at ${iso(5)} and the registration with its install token at ${iso(20)}; ${unverified}` },
    { name: 'no BMC: the ack lost, a registration before the last fetch does not count', hasBmc: false, steps: [fetched(5), registered(6), fetched(7), installed(30)],
      phase: 'failed', missing: 'reboot' },
    { name: 'BMC: the ack lost, never power-cycled: the registration is no substitute for the manager\'s own power cycle', hasBmc: true,
      steps: [fetched(5), registered(20), installed(30)], phase: 'failed', missing: 'reboot' },
    { name: 'the install-token registration is kept as evidence, but not required', hasBmc: true, steps: [ack(1), cycled(2), fetched(30), registered(40), installed(90)],
      phase: 'health-check', missing: null },
  ])('$name', ({ hasBmc, steps, phase, missing, message }) => {
    const progress = walk(steps, hasBmc);
    expect(progress.phase).toBe(phase);
    expect(progress.evidence.missing).toBe(missing);
    if (message) expect(progress.message).toBe(message);
  });

  it.each<{ name: string; hasBmc: boolean; steps: Step[]; proof: string | null; message: string }>([
    { name: 'BMC: verified by the manager', hasBmc: true, steps: [ack(1), cycled(2), fetched(30), installed(90)], proof: 'manager', message: 'checking health in the new image' },
    { name: 'no BMC: the agent\'s word alone, said so', hasBmc: false, steps: [ack(1), fetched(5), installed(30)], proof: 'agent-only', message: `checking health in the new image; ${unverified}` },
    { name: 'refused: no proof', hasBmc: false, steps: [ack(1), installed(2)], proof: null, message: `installing: ${refused}: no boot-script fetch after the agent acknowledged the reboot at ${iso(1)}` },
  ])('a believed install says what it rests on: $name', ({ hasBmc, steps, proof, message }) => {
    const progress = walk(steps, hasBmc);
    expect([progress.evidence.proof, progress.message]).toEqual([proof, message]);
  });

  it('ends an agent-only reimage with a message that says it was not verified', () => {
    let progress = walk([ack(1), fetched(5), installed(30)], false);
    for (const signal of [{ kind: 'healthy' }, { kind: 'restored' }] as const) {
      const result = stepReimage(progress, signal, t(40), { ...policy, hasBmc: false });
      if ('progress' in result) progress = result.progress;
    }
    expect([progress.phase, progress.message, progress.evidence.proof]).toEqual(['done', `reimaged (${unverified})`, 'agent-only']);
  });

  it('keeps the latest refused request for the install, and names it when the node then times out', () => {
    const refusedAt: Step = [8, { kind: 'install-refused', refused: { at: t(8), step: 'boot-script', peer: '10.0.0.66', reason: 'a second request for the install script' } }];
    const progress = walk([ack(1), fetched(5, '10.0.0.66'), refusedAt, timeout(61)], false);
    expect(progress).toMatchObject({
      phase: 'failed', evidence: { refused: { at: t(8), step: 'boot-script', peer: '10.0.0.66' } },
      message: `timed out in installing; the node has no BMC to power-cycle it with; refused at ${iso(8)} from 10.0.0.66: a second request for the install script`,
    });
  });

  it('keeps what it saw in the progress, with the times of the manager\'s clock', () => {
    const progress = walk([ack(1), cycled(2), fetched(30, '10.1.2.3'), registered(40)], true);
    expect(progress).toMatchObject({
      phase: 'installing', message: 'power-cycling into PXE through the BMC', deadlineAt: t(61),
      evidence: { rebootBy: 'bmc', rebootAckedAt: t(1), powerCycledAt: t(2), installBoot: { at: t(30), peer: '10.1.2.3' }, installRegisteredAt: t(40), missing: null },
    });
  });

  it('takes the ack time from the signal, or the step\'s clock when it has none', () => {
    expect(walk([[5, { kind: 'rebooting' }]], false).evidence).toMatchObject({ rebootBy: 'agent', rebootAckedAt: t(5) });
  });

  it.each(['queued', 'draining', 'health-check', 'restoring', 'done', 'failed'] as const)('ignores observations in %s', (phase) => {
    const progress: ReimageProgress = { phase, powerCycles: 0, deadlineAt: null, message: '', evidence: noEvidence(), failure: null };
    expect(stepReimage(progress, { kind: 'install-boot-served', at: t(1), peer: 'x' }, t(1), policy)).toHaveProperty('ignored');
  });
});
