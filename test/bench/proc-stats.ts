// CPU time and resident memory of a process, from /proc (Linux).
import { readdirSync, readFileSync } from 'node:fs';

const ticksPerSecond = 100; // USER_HZ on Linux

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // utime, stime (fields 14, 15)
}

function statusKiB(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
}

export function rssMiB(pid: number): number {
  return statusKiB(pid, 'VmRSS') / 1024;
}

/** Private memory only: RSS minus the pages mapped from files (the node binary, libraries). */
export function anonRssMiB(pid: number): number {
  return statusKiB(pid, 'RssAnon') / 1024;
}

export interface Footprint {
  rssAvgMiB: number;
  rssMaxMiB: number;
  anonRssAvgMiB: number;
  cpuPercentOfOneCore: number;
  cpuMsPerCycle: number;
}

/** Samples RSS every second for `seconds`, and CPU over the whole span. */
export async function measure(pids: Record<string, number>, seconds: number, cycleSeconds: number): Promise<Record<string, Footprint>> {
  const cpuStart = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const rss: Record<string, number[]> = Object.fromEntries(Object.keys(pids).map((k) => [k, []]));
  const anon: Record<string, number[]> = Object.fromEntries(Object.keys(pids).map((k) => [k, []]));
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    for (const [k, pid] of Object.entries(pids)) {
      rss[k]?.push(rssMiB(pid));
      anon[k]?.push(anonRssMiB(pid));
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const elapsed = (Date.now() - started) / 1000;
  const out: Record<string, Footprint> = {};
  for (const [k, pid] of Object.entries(pids)) {
    const cpu = cpuSeconds(pid) - (cpuStart[k] ?? 0);
    const samples = rss[k] ?? [];
    out[k] = {
      rssAvgMiB: samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length),
      rssMaxMiB: Math.max(...samples),
      anonRssAvgMiB: (anon[k] ?? []).reduce((a, b) => a + b, 0) / Math.max(1, samples.length),
      cpuPercentOfOneCore: (100 * cpu) / elapsed,
      cpuMsPerCycle: (1000 * cpu) / (elapsed / cycleSeconds),
    };
  }
  return out;
}

/** Every process's CPU seconds so far, by group: `groupOf(cmdline)` names it (null: not counted). */
export function cpuByGroup(groupOf: (cmdline: string) => string | null): Map<string, number> {
  const groups = new Map<string, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const group = groupOf(readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' '));
      if (group !== null) groups.set(group, (groups.get(group) ?? 0) + cpuSeconds(Number(entry)));
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return groups;
}

/** The whole machine's busy and idle CPU seconds so far (all cores, /proc/stat). */
export function machineCpuSeconds(): { busy: number; idle: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: (fields.reduce((a, b) => a + b, 0) - idle) / ticksPerSecond, idle: idle / ticksPerSecond };
}
