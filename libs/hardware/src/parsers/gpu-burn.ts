// gpu_burn (github.com/wilicc/gpu-burn) → each GPU's verdict, errors and
// hottest temperature. While it runs it prints a progress line per GPU set
// (often separated by carriage returns only): "proc'd: … errors: 0 - 0 …
// temps: 59 C - 56 C …"; at the end "Tested N GPUs:" and one "GPU i: OK" (or
// FAULTY) line per GPU. A run without that block was cut short: no result.

export interface GpuBurnResult {
  gpus: Array<{ index: number; result: string; errors: number; peakTempC: number | null }>;
}

export class GpuBurnParseError extends Error {}

/**
 * The dash-separated values after `label:` in one progress line, up to the next label ("errors: 0 - 37 (WARNING!) - 0",
 * "temps: 59 C - 56 C"): each value's leading number, null for one without.
 */
function progressValues(line: string, label: 'errors' | 'temps'): Array<number | null> | null {
  const start = line.indexOf(`${label}:`);
  if (start < 0) return null;
  const rest = line.slice(start + label.length + 1);
  const end = rest.search(/\b(errors|temps):/);
  return (end < 0 ? rest : rest.slice(0, end)).trim().split(/\s+-\s+/).map((v) => {
    const n = Number.parseInt(v, 10);
    return Number.isFinite(n) ? n : null;
  });
}

export function parseGpuBurn(text: string): GpuBurnResult {
  const segments = text.split(/\r\n|\r|\n/);
  const tested = segments.findIndex((s) => /^Tested \d+ GPUs:$/.test(s.trim()));
  if (tested < 0) throw new GpuBurnParseError('no "Tested N GPUs:" summary: the run did not finish');
  const count = Number(/^Tested (\d+) GPUs:$/.exec(segments[tested]?.trim() ?? '')?.[1]);
  const verdicts = new Map<number, string>();
  for (const line of segments.slice(tested + 1)) {
    const match = /^GPU (\d+): (\S+)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2]) verdicts.set(Number(match[1]), match[2]);
  }
  if (verdicts.size !== count) throw new GpuBurnParseError(`"Tested ${count} GPUs:" followed by ${verdicts.size} GPU verdicts`);
  // Progress lines: the last one's error counts (cumulative), the highest temperature each GPU reached. The line holds
  // one value per GPU, in the order of the verdicts.
  const order = [...verdicts.keys()].sort((a, b) => a - b);
  const errors = new Array<number>(order.length).fill(0);
  const peaks = new Array<number | null>(order.length).fill(null);
  for (const line of segments.slice(0, tested)) {
    const errorValues = progressValues(line, 'errors');
    const temps = progressValues(line, 'temps');
    if (errorValues?.length === order.length) errorValues.forEach((e, i) => (errors[i] = Math.max(errors[i] ?? 0, e ?? 0)));
    if (temps?.length === order.length) temps.forEach((t, i) => (peaks[i] = t === null ? (peaks[i] ?? null) : Math.max(peaks[i] ?? t, t)));
  }
  return { gpus: order.map((index, i) => ({ index, result: verdicts.get(index) ?? '', errors: errors[i] ?? 0, peakTempC: peaks[i] ?? null })) };
}
