// One node's way through a reimage, as a pure step function. The controller
// persists the result of every step before it carries out the effects, so a
// manager that dies mid-way resumes from the last phase written.
//
//   queued → draining → isolating → rebooting → installing → health-check → (accepting) → restoring → done
//                                       │  (acked: a node with a BMC is power-cycled into PXE through it;
//                                       │   no answer: power-cycle into PXE through the BMC, then fail)
//   any phase ── timeout / error ──► failed
//
// `accepting` (--acceptance-after-reimage): the node, still off its tenant's
// network, runs the acceptance suite of its SKU in the new image before it
// serves again; a failed suite fails the reimage (and the node, replaced).
//
// A failure before the node was taken down (queued, draining, isolating) ends
// the node's entry and leaves the node in service: only a node that went down
// and did not come back is failed (and, through the lifecycle, replaced).
//
// An install reported by the agent is believed only with the manager's own
// evidence that the node went down and booted the install image (see
// reimage-evidence.ts); the observations are signals that change no phase.
import { ackLostNote, installProof, missingInstallEvidence, noEvidence, unverifiedNote, type RefusedInstall, type ReimageEvidence } from './reimage-evidence.ts';

export const reimagePhases = ['queued', 'draining', 'isolating', 'rebooting', 'installing', 'health-check', 'accepting', 'restoring', 'done', 'failed'] as const;
export type ReimagePhase = (typeof reimagePhases)[number];

/** Phases in which the node is taken down: what the concurrency limits count. */
export function isInFlight(phase: ReimagePhase): boolean {
  return phase !== 'queued' && phase !== 'done' && phase !== 'failed';
}

export type ReimageSignal =
  | { kind: 'start' }
  | { kind: 'drained' }
  | { kind: 'isolated' }
  /** The agent acked the command: it reboots into PXE, or waits for the BMC power cycle where the node has a BMC. `at`: when the ack arrived (default: now). */
  | { kind: 'rebooting'; at?: Date }
  /** The agent in the new image verified the image and reported success. */
  | { kind: 'installed'; sha256: string }
  /** Observed: the manager power-cycled the node into PXE through its BMC (`at`: before the BMC call). */
  | { kind: 'power-cycled'; at: Date }
  /** Observed: the boot endpoint served this reimage's install script. */
  | { kind: 'install-boot-served'; at: Date; peer: string }
  /** Observed: an agent registered with the install token bound to this node and command. */
  | { kind: 'install-registered'; at: Date }
  /** Observed: a request for this reimage's install was refused (a second fetch, a registration from elsewhere). */
  | { kind: 'install-refused'; refused: RefusedInstall }
  | { kind: 'healthy' }
  /** The node passed its acceptance suite (the lifecycle took it back to its tenant). */
  | { kind: 'accepted' }
  | { kind: 'restored' }
  /** Anything that ends the node's reimage: an effect that failed, a bad result, critical health. */
  | { kind: 'failed'; code: ReimageFailureCode; details: string }
  /** The phase's deadline passed (or the command was never acked). */
  | { kind: 'timeout' };

/** What the controller must do after a step. */
export type ReimageEffect =
  | 'drain' | 'isolate' | 'send-command' | 'power-cycle-pxe' | 'check-health' | 'restore'
  /** The node enters acceptance testing (the lifecycle's `accept`); its outcome comes back as `accepted` or a failure. */
  | 'accept'
  /** The node went down and did not come back: it fails in the lifecycle. */
  | 'fail-node'
  /** The reimage ended after the node left the tenant's network but before it went down: it goes back to its tenant, unharmed. */
  | 'return-node';

/** Why a node's reimage failed: stable codes that callers (API, CLI, tests) match on. */
export const reimageFailureCodes = [
  'node-missing', 'image-missing', 'transition-refused', 'drain-failed', 'isolate-failed', 'command-failed', 'power-cycle-failed', 'no-bmc',
  'health-check-failed', 'unhealthy', 'restore-failed', 'agent-failed', 'identity-conflict', 'timeout', 'image-mismatch', 'missing-evidence',
  /** Another operation held the node (entries from before one open entry per node was enforced). */
  'node-busy',
  /** The node failed its acceptance suite in the new image (--acceptance-after-reimage). */
  'acceptance-failed',
] as const;
export type ReimageFailureCode = (typeof reimageFailureCodes)[number];

export interface ReimageFailure {
  code: ReimageFailureCode;
  /** The phase the node was in when its reimage failed. */
  phase: ReimagePhase;
  details: string;
}

export interface ReimageProgress {
  phase: ReimagePhase;
  /** Power cycles spent on this node so far. */
  powerCycles: number;
  deadlineAt: Date | null;
  message: string;
  /** What the manager itself saw of the node going down and booting the install image. */
  evidence: ReimageEvidence;
  /** Set in `failed` only. */
  failure: ReimageFailure | null;
}

export interface ReimagePolicy {
  timeoutsMs: Record<Exclude<ReimagePhase, 'queued' | 'done' | 'failed'>, number>;
  /** How often an unresponsive node is power-cycled through its BMC before it is failed. */
  maxPowerCycles: number;
  /** Known for the signals that need it (timeouts, acks). */
  hasBmc: boolean;
  expectedSha256: string;
  /** The node is acceptance-tested in the new image before it serves again (--acceptance-after-reimage). */
  acceptance?: boolean;
}

export type StepResult = { progress: ReimageProgress; effects: ReimageEffect[] } | { ignored: string };

/**
 * The effect that entering each phase calls for: what a step does, and what a
 * restarted manager does again for a node it finds in that phase (effects are
 * idempotent). `installing` has none: the node is down, the deadline watches it.
 */
export const reimageEffectOnEntry: Readonly<Partial<Record<ReimagePhase, ReimageEffect>>> = {
  draining: 'drain', isolating: 'isolate', rebooting: 'send-command', 'health-check': 'check-health', accepting: 'accept', restoring: 'restore',
};

/** Whether a node in `phase` has been taken down (sent the reimage command) and not yet restored to its tenant. */
export function isTakenDown(phase: ReimagePhase): boolean {
  return phase === 'rebooting' || phase === 'installing' || phase === 'health-check' || phase === 'accepting' || phase === 'restoring';
}

/** What ending a node's reimage in `phase` does to the node itself. */
function failureEffects(phase: ReimagePhase): ReimageEffect[] {
  if (isTakenDown(phase)) return ['fail-node'];
  // Drained at most: the node still runs its image in the tenant network; nothing to undo but the isolation.
  return phase === 'isolating' ? ['return-node'] : [];
}

function enter(phase: ReimagePhase, from: ReimageProgress, message: string, now: Date, policy: ReimagePolicy): { progress: ReimageProgress; effects: ReimageEffect[] } {
  const timeout = phase === 'queued' || phase === 'done' || phase === 'failed' ? null : policy.timeoutsMs[phase];
  const effect = reimageEffectOnEntry[phase];
  return {
    progress: { phase, powerCycles: from.powerCycles, deadlineAt: timeout === null ? null : new Date(now.getTime() + timeout), message, evidence: from.evidence, failure: null },
    effects: effect ? [effect] : [],
  };
}

function fail(from: ReimageProgress, code: ReimageFailureCode, details: string, message = `${from.phase}: ${details}`): { progress: ReimageProgress; effects: ReimageEffect[] } {
  return {
    progress: { ...from, phase: 'failed', deadlineAt: null, message, failure: { code, phase: from.phase, details } },
    effects: failureEffects(from.phase),
  };
}

/** The phase that follows `signal` in `progress.phase`, or why the signal does not apply there. */
export function stepReimage(progress: ReimageProgress, signal: ReimageSignal, now: Date, policy: ReimagePolicy): StepResult {
  const { phase } = progress;
  const go = (next: ReimagePhase, message: string) => enter(next, progress, message, now, policy);
  if (phase === 'done' || phase === 'failed') return { ignored: `the reimage already ended (${phase})` };
  if (signal.kind === 'failed') return fail(progress, signal.code, signal.details);
  if (signal.kind === 'timeout') {
    const waitingForNode = phase === 'rebooting' || phase === 'installing';
    if (waitingForNode && policy.hasBmc && progress.powerCycles < policy.maxPowerCycles) {
      return {
        progress: {
          phase: 'installing', powerCycles: progress.powerCycles + 1, deadlineAt: new Date(now.getTime() + policy.timeoutsMs.installing),
          message: `no answer in ${phase}; power-cycled into PXE through the BMC (${progress.powerCycles + 1}/${policy.maxPowerCycles})`,
          evidence: progress.evidence, failure: null,
        },
        effects: ['power-cycle-pxe'],
      };
    }
    const evidence = waitingForNode && !policy.hasBmc ? '; the node has no BMC to power-cycle it with' : '';
    // A refused request may be why (another machine took the install token first): the operator should know.
    const refused = progress.evidence.refused;
    const lastRefused = refused ? `; refused at ${refused.at.toISOString()} from ${refused.peer}: ${refused.reason}` : '';
    const details = `timed out in ${phase}${evidence}${lastRefused}`;
    return fail(progress, 'timeout', details, details);
  }
  if (signal.kind === 'power-cycled' || signal.kind === 'install-boot-served' || signal.kind === 'install-registered' || signal.kind === 'install-refused') return observe(progress, signal);
  switch (`${phase}:${signal.kind}`) {
    case 'queued:start': return go('draining', 'draining workloads');
    case 'draining:drained': return go('isolating', 'moving to the provisioning network');
    case 'isolating:isolated': return go('rebooting', 'rebooting into PXE');
    case 'rebooting:rebooting': {
      // A running report made after the install script was served comes from the install boot, not the reboot: the
      // reboot's own ack was lost, or is late (it waited in the broker session of a replica that died). It is no ack:
      // the ack-lost rule judges the install (the script served, then its install token registered).
      const at = (signal.kind === 'rebooting' && signal.at) || now;
      const served = progress.evidence.installBoot;
      const rebootAckedAt = served && served.at.getTime() < at.getTime() ? null : at;
      const acked = { ...progress.evidence, rebootBy: policy.hasBmc ? 'bmc' as const : 'agent' as const, rebootAckedAt };
      const next = enter('installing', { ...progress, evidence: acked }, policy.hasBmc ? 'power-cycling into PXE through the BMC' : 'booting the image', now, policy);
      return policy.hasBmc ? { ...next, effects: ['power-cycle-pxe'] } : next;
    }
    case 'rebooting:installed':
    case 'installing:installed': {
      const sha = signal.kind === 'installed' ? signal.sha256.toLowerCase() : '';
      if (sha !== policy.expectedSha256.toLowerCase()) return fail(progress, 'image-mismatch', `the node booted an image with sha256 ${sha || '(none)'}, expected ${policy.expectedSha256}`);
      const missing = missingInstallEvidence(progress.evidence, policy.hasBmc);
      if (missing) return fail({ ...progress, evidence: { ...progress.evidence, missing: missing.code } }, 'missing-evidence', missing.message);
      const believed = { ...progress, evidence: { ...progress.evidence, proof: installProof(policy.hasBmc) } };
      const notes = [ackLostNote(progress.evidence, policy.hasBmc), unverifiedNote(believed.evidence)].filter((n) => n !== null);
      return enter('health-check', believed, ['checking health in the new image', ...notes].join('; '), now, policy);
    }
    case 'health-check:healthy': return policy.acceptance ? go('accepting', 'acceptance testing in the new image') : go('restoring', 'returning to the tenant network');
    case 'accepting:accepted': return go('restoring', 'accepted; returning to the tenant network');
    case 'restoring:restored': {
      const note = unverifiedNote(progress.evidence);
      return go('done', note ? `reimaged (${note})` : 'reimaged');
    }
    default: return { ignored: `${signal.kind} does not apply in phase ${phase}` };
  }
}

/**
 * The manager was down for `pausedMs` while the node was in this phase: the phase's deadline moves later by as much.
 * A node cannot be judged on time the manager was not there to see it (its reports wait in its spool, its boot
 * script waits for the listener), so a restart never fails a reimage by itself.
 */
export function deadlineAfterPause(progress: ReimageProgress, pausedMs: number): ReimageProgress {
  if (pausedMs <= 0 || progress.deadlineAt === null || !isInFlight(progress.phase)) return progress;
  return { ...progress, deadlineAt: new Date(progress.deadlineAt.getTime() + pausedMs) };
}

/**
 * How long a node's installer may keep at its install from now (the window on its kernel command line). In
 * `installing`, what is left of that phase's deadline. In `rebooting` the node fetched its install script before the
 * manager stored its reboot ack (the ack arrives late): the install phase starts when the manager stores it, no
 * sooner than now, so the installer gets that phase's whole timeout — never the rest of the rebooting deadline,
 * and never more than the manager will wait.
 */
export function installWindowMs(progress: ReimageProgress, now: Date, installingTimeoutMs: number): number | null {
  if (progress.phase === 'rebooting') return installingTimeoutMs;
  if (progress.phase !== 'installing' || progress.deadlineAt === null) return null;
  return Math.max(0, progress.deadlineAt.getTime() - now.getTime());
}

export function queuedProgress(): ReimageProgress {
  return { phase: 'queued', powerCycles: 0, deadlineAt: null, message: 'waiting for a slot', evidence: noEvidence(), failure: null };
}

type Observation = Extract<ReimageSignal, { kind: 'power-cycled' | 'install-boot-served' | 'install-registered' | 'install-refused' }>;

/** Records what the manager saw while the node is down; the phase, deadline and message stay. */
function observe(progress: ReimageProgress, signal: Observation): StepResult {
  if (progress.phase !== 'rebooting' && progress.phase !== 'installing') return { ignored: `${signal.kind} does not apply in phase ${progress.phase}` };
  const evidence = { ...progress.evidence };
  // The latest of each: a node power-cycled again after a timeout must boot the install image again after that.
  if (signal.kind === 'power-cycled') evidence.powerCycledAt = signal.at;
  if (signal.kind === 'install-boot-served') evidence.installBoot = { at: signal.at, peer: signal.peer };
  if (signal.kind === 'install-registered') evidence.installRegisteredAt = signal.at;
  if (signal.kind === 'install-refused') evidence.refused = signal.refused;
  return { progress: { ...progress, evidence }, effects: [] };
}
