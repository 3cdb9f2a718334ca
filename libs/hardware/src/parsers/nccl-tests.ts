// NCCL tests' output (`all_reduce_perf` and the other `*_perf` of
// github.com/NVIDIA/nccl-tests): the devices, one row per message size with
// out-of-place and in-place time and bandwidths, wrong results, and the
// summary lines. The gate an acceptance test applies is the bus bandwidth at
// the largest sizes (GPU-HEALTH.md §7), not the "Avg bus bandwidth" line,
// which averages every size down to 8 bytes.

export interface NcclDevice {
  rank: number;
  host: string;
  device: number;
  pciBusId: string;
  model: string;
}

export interface NcclMeasure {
  timeUs: number;
  algbwGBs: number;
  busbwGBs: number;
  /** Wrong results; null where the run did not check (`N/A`). */
  wrong: number | null;
}

export interface NcclRow {
  sizeBytes: number;
  count: number;
  type: string;
  redop: string;
  outOfPlace: NcclMeasure;
  inPlace: NcclMeasure;
}

export interface NcclTestResult {
  devices: NcclDevice[];
  rows: NcclRow[];
  /** From "# Out of bounds values : N OK|FAILED"; null when the line is missing (a run cut short). */
  outOfBounds: { count: number; ok: boolean } | null;
  /** From "# Avg bus bandwidth : X" (GB/s); null when missing. */
  avgBusbwGBs: number | null;
  /** The best bus bandwidth (GB/s), out-of-place or in-place, at the largest size measured. */
  busbwAtLargestGBs: number | null;
  /** Wrong results over every row. */
  wrongTotal: number;
}

export class NcclTestParseError extends Error {}

const deviceLine = /^#\s+Rank\s+(\d+)\s+Group\s+\d+\s+Pid\s+\d+\s+on\s+(\S+)\s+device\s+(\d+)\s+\[([0-9a-fA-F:.]+)\]\s+(.+)$/;

function measure(time: string, algbw: string, busbw: string, wrong: string): NcclMeasure {
  return { timeUs: Number(time), algbwGBs: Number(algbw), busbwGBs: Number(busbw), wrong: wrong === 'N/A' ? null : Number(wrong) };
}

export function parseNcclTestOutput(text: string): NcclTestResult {
  const devices: NcclDevice[] = [];
  const rows: NcclRow[] = [];
  let outOfBounds: NcclTestResult['outOfBounds'] = null;
  let avgBusbwGBs: number | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const device = deviceLine.exec(line);
    if (device) {
      devices.push({ rank: Number(device[1]), host: device[2] ?? '', device: Number(device[3]), pciBusId: device[4] ?? '', model: (device[5] ?? '').trim() });
      continue;
    }
    const bounds = /^#\s*Out of bounds values\s*:\s*(\d+)\s+(OK|FAILED)/i.exec(line);
    if (bounds) {
      outOfBounds = { count: Number(bounds[1]), ok: bounds[2]?.toUpperCase() === 'OK' };
      continue;
    }
    const avg = /^#\s*Avg bus bandwidth\s*:\s*([\d.]+)/i.exec(line);
    if (avg) {
      avgBusbwGBs = Number(avg[1]);
      continue;
    }
    if (line.startsWith('#') || line === '') continue;
    // size count type redop root time algbw busbw #wrong time algbw busbw #wrong (root is -1 for all-reduce)
    const f = line.split(/\s+/);
    if (f.length !== 13 || !/^\d+$/.test(f[0] ?? '')) continue;
    const [size, count, type, redop, , t1, a1, b1, w1, t2, a2, b2, w2] = f as [string, string, string, string, string, string, string, string, string, string, string, string, string];
    const row = { sizeBytes: Number(size), count: Number(count), type, redop, outOfPlace: measure(t1, a1, b1, w1), inPlace: measure(t2, a2, b2, w2) };
    if ([row.outOfPlace, row.inPlace].some((m) => [m.timeUs, m.algbwGBs, m.busbwGBs].some((v) => !Number.isFinite(v)))) {
      throw new NcclTestParseError(`not a NCCL tests result row: ${line}`);
    }
    rows.push(row);
  }
  if (rows.length === 0) throw new NcclTestParseError('no result rows: not NCCL tests output, or the run failed before measuring');
  const largest = rows.reduce((a, b) => (b.sizeBytes > a.sizeBytes ? b : a));
  return {
    devices, rows, outOfBounds, avgBusbwGBs,
    busbwAtLargestGBs: Math.max(largest.outOfPlace.busbwGBs, largest.inPlace.busbwGBs),
    wrongTotal: rows.reduce((sum, r) => sum + (r.outOfPlace.wrong ?? 0) + (r.inPlace.wrong ?? 0), 0),
  };
}
