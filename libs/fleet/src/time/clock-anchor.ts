// Where the manager's time stood, kept in the data directory so that a restart
// carries on from it: on the same boot of the host, the system's monotonic
// clock (CLOCK_MONOTONIC, shared by every process, never stepped) says exactly
// how much time passed while the manager was down, so a host clock stepped
// before or during the restart does not move the manager's time either. After a
// reboot (another boot id) the host clock is all there is.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createSteadyClock, systemClockSources, type ClockStep, type SteadyClock } from './steady-clock.ts';

export interface ClockAnchor {
  bootId: string;
  /** The system's monotonic clock (ms since boot) when it was written. */
  monotonicMs: number;
  /** The manager's time (epoch ms) at that moment. */
  steadyMs: number;
}

/** The latest time a JavaScript Date can hold (ECMA-262: 8.64e15 ms after the epoch). */
const maxDateMs = 8.64e15;

export function hostBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

export function readClockAnchor(file: string): ClockAnchor | null {
  try {
    const a = JSON.parse(readFileSync(file, 'utf8')) as Partial<ClockAnchor>;
    // Times a Date can hold (a damaged file may still parse): a downtime of NaN would move every deadline to NaN.
    const isTime = (ms: unknown): ms is number => typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 && ms <= maxDateMs;
    return typeof a.bootId === 'string' && isTime(a.monotonicMs) && isTime(a.steadyMs) ? a as ClockAnchor : null;
  } catch {
    return null;
  }
}

/** The manager's time now, carried on from the anchor; null when the anchor is from another boot (or none). */
export function resumeFromAnchor(anchor: ClockAnchor | null, bootId: string | null, monotonicNowMs: number): number | null {
  if (!anchor || bootId === null || anchor.bootId !== bootId || monotonicNowMs < anchor.monotonicMs) return null;
  return anchor.steadyMs + (monotonicNowMs - anchor.monotonicMs);
}

export function writeClockAnchor(file: string, anchor: ClockAnchor): void {
  writeFileSync(`${file}.tmp`, `${JSON.stringify(anchor)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

export interface ManagerClock extends SteadyClock {
  /** true: carried on from the anchor of a run before this one (same boot of the host). */
  resumed: boolean;
  /**
   * The manager's time when the run before this one last wrote the anchor; null without one. About when it stopped
   * only if its writes went through: one whose writes failed (a full disk) left an older time (see downtime.ts).
   */
  lastRunAt: Date | null;
  /** Writes the anchor (every few seconds, and at close); throws when it cannot. */
  save(): void;
  /** Since when (the manager's time) every write of the anchor has failed; null while they go through. */
  saveFailingSince(): Date | null;
  /** How old the anchor a restart would find is: the manager's time since this run last wrote it (since its start before the first write). */
  anchorAgeMs(): number;
}

/** The manager's clock, carried on from `file` when the host has not rebooted since it was written. */
export function openManagerClock(file: string, onStep: (step: ClockStep) => void, sources = systemClockSources, write = writeClockAnchor): ManagerClock {
  const bootId = hostBootId();
  const anchor = readClockAnchor(file);
  const startMs = resumeFromAnchor(anchor, bootId, sources.monotonicMs());
  const clock = createSteadyClock(sources, { ...(startMs !== null ? { startMs } : {}), onStep });
  let writtenAt = clock.now().getTime();
  let failingSince: Date | null = null;
  return {
    ...clock,
    resumed: startMs !== null,
    lastRunAt: anchor ? new Date(anchor.steadyMs) : null,
    save() {
      const steadyMs = clock.now().getTime();
      if (bootId === null) return;
      try {
        write(file, { bootId, monotonicMs: sources.monotonicMs(), steadyMs });
      } catch (error) {
        failingSince ??= new Date(steadyMs);
        throw error;
      }
      writtenAt = steadyMs;
      failingSince = null;
    },
    saveFailingSince: () => failingSince,
    anchorAgeMs: () => Math.max(0, clock.now().getTime() - writtenAt),
  };
}
