// Acceptance testing on the node: the NVLinks read, `dcgmi diag -r N` where
// DCGM is installed, NCCL all_reduce_perf across every GPU, nvbandwidth, and
// gpu_burn with nvidia-smi read under its load. Each tool's own
// output is parsed here by the parsers tested on real outputs, and kept (cut
// to a bound) for the vendor's evidence; the manager judges the facts.
import { gzipSync } from 'node:zlib';
import { acceptanceLimits, acceptanceReportBytes, gpuStateOutput, type AcceptanceFacts, type AcceptArgs } from '@metalfleet/domain';
import type { RunCommand } from './command-runner.ts';
import { parseDcgmDiag } from './parsers/dcgm.ts';
import { GpuBurnParseError, parseGpuBurn } from './parsers/gpu-burn.ts';
import { parseNvidiaSmiCsv } from './parsers/nvidia-smi-csv.ts';
import { NcclTestParseError, parseNcclTestOutput } from './parsers/nccl-tests.ts';
import { lowestBandwidth, NvbandwidthParseError, parseNvbandwidth } from './parsers/nvbandwidth.ts';
import { parseNvlinkStatus } from './parsers/nvlink.ts';

/** What the tools printed: null where a tool is not there (DCGM) or was not asked for (NCCL). */
export interface AcceptanceOutputs {
  nvlink: { text: string } | { error: string };
  dcgm: { text: string } | { error: string } | null;
  nccl: { text: string } | { error: string } | null;
  nvbandwidth: { text: string } | { error: string } | null;
  /** gpu_burn, and what nvidia-smi read while it ran (`stressSampleFields`, CSV without header or units, one text a reading). */
  stress: { seconds: number; burn: { text: string } | { error: string }; samples: string[] } | null;
  /** `nvidia-smi -q -x` once the suite is done (after the load), for the vendor's evidence. */
  gpuState: { text: string } | { error: string };
}

/** What the agent reads from nvidia-smi under load (before driver 535 the reasons' field is `clocks_throttle_reasons.active`). */
export const stressSampleFields = ['index', 'temperature.gpu', 'clocks_event_reasons.active'] as const;
const olderSampleFields = ['index', 'temperature.gpu', 'clocks_throttle_reasons.active'] as const;

/**
 * Longest output kept per tool (the start: devices and settings; the end: the result lines). The six together (and
 * the GPUs' compressed state, `gpuStateOutput.maxChars`) stay
 * far under the broker's payload limit (256 KiB by default): a report over it is never stored, so never acknowledged,
 * and would hold every later report of the node in its spool behind it.
 */
export const keptOutputChars = 16 * 1024;
const keptChars = keptOutputChars;
const kept = (text: string, chars = keptChars) => (text.length <= chars ? text : `${text.slice(0, chars / 2)}\n[… ${text.length - chars} characters left out …]\n${text.slice(-chars / 2)}`);

export function acceptanceFacts(outputs: AcceptanceOutputs): AcceptanceFacts {
  const texts: AcceptanceFacts['outputs'] = [];
  const keep = (tool: string, output: { text: string } | { error: string }) => texts.push({ tool, text: kept('text' in output ? output.text : `failed: ${output.error}`) });
  keep('nvidia-smi nvlink -s', outputs.nvlink);
  const nvlinks = 'text' in outputs.nvlink ? parseNvlinkStatus(outputs.nvlink.text) : null;
  let dcgm: AcceptanceFacts['dcgm'] = null;
  if (outputs.dcgm) {
    keep('dcgmi diag', outputs.dcgm);
    // DCGM there but its run failed: no test passed (judged as a failure, not as DCGM missing).
    const failed = (info: string): AcceptanceFacts['dcgm'] => [{ test: 'dcgmi diag', gpuIds: [], status: 'fail', info, errorSeverity: null }];
    if ('error' in outputs.dcgm) dcgm = failed(outputs.dcgm.error);
    else {
      try {
        dcgm = withinLimits(parseDcgmDiag(outputs.dcgm.text));
      } catch (error) {
        dcgm = failed(`its output is not DCGM's JSON: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  let nccl: AcceptanceFacts['nccl'] = null;
  if (outputs.nccl) {
    keep('all_reduce_perf', outputs.nccl);
    if ('text' in outputs.nccl) {
      try {
        const result = parseNcclTestOutput(outputs.nccl.text);
        const largest = result.rows.reduce((a, b) => (b.sizeBytes > a.sizeBytes ? b : a));
        // A run cut short (no bounds line) or with values out of bounds gave no result to trust.
        if (result.outOfBounds?.ok && result.busbwAtLargestGBs !== null) {
          nccl = { busbwGBs: result.busbwAtLargestGBs, sizeBytes: largest.sizeBytes, wrongResults: result.wrongTotal, devices: result.devices.length, tool: 'all_reduce_perf' };
        }
      } catch (error) {
        if (!(error instanceof NcclTestParseError)) throw error;
      }
    }
  }
  let copies: AcceptanceFacts['copies'] = null;
  if (outputs.nvbandwidth) {
    keep('nvbandwidth', outputs.nvbandwidth);
    if ('text' in outputs.nvbandwidth) {
      try {
        const matrices = parseNvbandwidth(outputs.nvbandwidth.text);
        const host = lowestBandwidth(matrices, hostCopyTest);
        const peer = lowestBandwidth(matrices, peerCopyTest);
        // The host-to-device matrix has the CPU as its one row: the GPU is the column. Device-to-device reads: row ← column.
        copies = { hostToDevice: host ? { gbs: host.gbs, gpu: host.column } : null, peer: peer ? { gbs: peer.gbs, from: peer.column, to: peer.row } : null };
      } catch (error) {
        if (!(error instanceof NvbandwidthParseError)) throw error;
      }
    }
  }
  let stress: AcceptanceFacts['stress'] = null;
  if (outputs.stress) {
    keep('gpu_burn', outputs.stress.burn);
    if (outputs.stress.samples.length > 0) keep('nvidia-smi under load', { text: outputs.stress.samples.join('\n') });
    stress = stressFacts(outputs.stress);
  }
  texts.push(gpuStateText(outputs.gpuState));
  return withinReportBytes({ nvlinks, nccl, dcgm, copies, stress, outputs: texts });
}

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');
const reportBytes = (facts: AcceptanceFacts) =>
  facts.outputs.reduce((sum, o) => sum + utf8(o.text) + utf8(o.tool), 0) + (facts.dcgm ?? []).reduce((sum, t) => sum + utf8(t.test) + utf8(t.info) + t.gpuIds.reduce((n, g) => n + utf8(g), 0), 0);

/**
 * The report within `acceptanceReportBytes`: DCGM's messages shortened first (its verdicts stay), then the GPU state
 * left out, then each tool's output cut to an equal share (its start and its end). A typical report is far under it.
 */
function withinReportBytes(facts: AcceptanceFacts): AcceptanceFacts {
  if (reportBytes(facts) <= acceptanceReportBytes) return facts;
  const shortened = facts.dcgm?.map((t) => ({ ...t, test: t.test.slice(0, 128), info: t.info.length > 128 ? `${t.info.slice(0, 127)}…` : t.info, gpuIds: t.gpuIds.map((g) => g.slice(0, 16)) })) ?? null;
  let fitted: AcceptanceFacts = { ...facts, dcgm: shortened };
  if (reportBytes(fitted) <= acceptanceReportBytes) return fitted;
  const leftOut = `left out: the report would pass its ${acceptanceReportBytes} bytes`;
  fitted = { ...fitted, outputs: fitted.outputs.map((o) => (o.tool === gpuStateOutput.tool ? { tool: 'nvidia-smi -q -x', text: leftOut } : o)) };
  const over = reportBytes(fitted) - acceptanceReportBytes;
  if (over <= 0) return fitted;
  // A UTF-16 code unit is at most 3 bytes of UTF-8: shares counted in code units so that bytes stay within.
  const outputBytes = fitted.outputs.reduce((sum, o) => sum + utf8(o.text), 0);
  const share = Math.max(256, Math.floor((outputBytes - over) / fitted.outputs.length / 3) - 64);
  return { ...fitted, outputs: fitted.outputs.map((o) => ({ tool: o.tool, text: kept(o.text, share) })) };
}

/** The GPUs' state as the manager takes it: compressed whole (cut, XML is no evidence), or why it is not there. */
function gpuStateText(output: AcceptanceOutputs['gpuState']): { tool: string; text: string } {
  const asRun = 'nvidia-smi -q -x';
  if ('error' in output) return { tool: asRun, text: kept(`failed: ${output.error}`) };
  const encoded = gzipSync(output.text).toString('base64');
  if (encoded.length <= gpuStateOutput.maxChars) return { tool: gpuStateOutput.tool, text: encoded };
  return { tool: asRun, text: `left out: ${output.text.length} characters of XML, ${encoded.length} compressed, over the ${gpuStateOutput.maxChars} kept` };
}

/** gpu_burn's verdicts and temperatures, with the hottest reading and every clock event reason nvidia-smi saw under load. */
function stressFacts(stress: NonNullable<AcceptanceOutputs['stress']>): AcceptanceFacts['stress'] {
  if (!('text' in stress.burn)) return null;
  let burned;
  try {
    burned = parseGpuBurn(stress.burn.text);
  } catch (error) {
    if (error instanceof GpuBurnParseError) return null;
    throw error;
  }
  const readings = stress.samples.flatMap((text) => parseNvidiaSmiCsv(text, stressSampleFields));
  const sampled = readings.some((r) => r.clockEventsActive !== null);
  return {
    tool: 'gpu_burn', seconds: stress.seconds, sampled,
    gpus: burned.gpus.map((g) => {
      const mine = readings.filter((r) => r.index === g.index);
      const temps = [g.peakTempC, ...mine.map((r) => r.temperature.gpuC)].filter((t): t is number => t !== null);
      return {
        index: g.index, result: g.result.slice(0, 64), errors: g.errors, peakTempC: temps.length > 0 ? Math.max(...temps) : null,
        clockEvents: mine.some((r) => r.clockEventsActive !== null) ? [...new Set(mine.flatMap((r) => r.clockEventsActive ?? []))] : null,
      };
    }),
  };
}

/**
 * DCGM's results as the manager takes them (acceptanceLimits): one status it does not know (a newer DCGM's "Not Run")
 * fails, saying which, instead of the manager refusing the whole report and its outputs with it; texts cut to their
 * bound; past the number of tests, one failed result saying how many were left out.
 */
function withinLimits(results: NonNullable<AcceptanceFacts['dcgm']>): NonNullable<AcceptanceFacts['dcgm']> {
  const statuses: readonly string[] = ['pass', 'warn', 'fail', 'skip'];
  const cut = (text: string) => (text.length <= acceptanceLimits.textChars ? text : `${text.slice(0, acceptanceLimits.textChars - 1)}…`);
  const normalized = results.map((r) => {
    const known = statuses.includes(r.status);
    return {
      ...r, test: cut(r.test), gpuIds: r.gpuIds.slice(0, acceptanceLimits.gpus).map(cut), status: known ? r.status : 'fail' as const,
      info: cut(known ? r.info : `DCGM status "${r.status}": ${r.info}`),
    };
  });
  if (normalized.length <= acceptanceLimits.dcgmTests) return normalized;
  const kept = normalized.slice(0, acceptanceLimits.dcgmTests - 1);
  return [...kept, { test: 'dcgmi diag', gpuIds: [], status: 'fail', info: `${normalized.length - kept.length} more results left out`, errorSeverity: null }];
}

const hostCopyTest = 'host_to_device_memcpy_ce';
const peerCopyTest = 'device_to_device_memcpy_read_ce';

const attempt = async (read: () => Promise<string>) => read().then((text) => ({ text }), (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }));

/** The real node's tools. DCGM missing (no dcgmi) is not an error: the suite says it did not run. */
export async function runAcceptanceTools(run: RunCommand, args: AcceptArgs, gpuCount: number): Promise<AcceptanceOutputs> {
  const nvlink = await attempt(() => run('nvidia-smi', ['nvlink', '-s']));
  const dcgmAvailable = args.dcgmLevel > 0 && (await run('dcgmi', ['--version']).then(() => true, () => false));
  const dcgm = dcgmAvailable ? await attempt(() => run('dcgmi', ['diag', '-r', String(args.dcgmLevel), '-j'], { timeoutMs: 2 * 3600_000 })) : null;
  const nccl = args.nccl
    ? await attempt(() => run('all_reduce_perf', ['-b', '1G', '-e', '8G', '-f', '2', '-g', String(gpuCount), '-c', '1'], { timeoutMs: 30 * 60_000 }))
    : null;
  const nvbandwidth = args.nvbandwidth ? await attempt(() => run('nvbandwidth', ['-t', hostCopyTest, '-t', peerCopyTest], { timeoutMs: 10 * 60_000 })) : null;
  const stress = args.stressSeconds > 0 ? await runStress(run, args.stressSeconds) : null;
  const gpuState = await attempt(() => run('nvidia-smi', ['-q', '-x'], { timeoutMs: 60_000 }));
  return { nvlink, dcgm, nccl, nvbandwidth, stress, gpuState };
}

/**
 * gpu_burn for `seconds`, with nvidia-smi read every `seconds / 60` (at least 5 s) while it runs: about 60 readings, so
 * a cooling fault that shows after a few minutes under load is seen, and the readings stay small.
 */
export async function runStress(
  run: RunCommand, seconds: number, sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms)), nowMs = () => Date.now(),
): Promise<NonNullable<AcceptanceOutputs['stress']>> {
  const startedMs = nowMs();
  let running = true;
  const burn = attempt(() => run('gpu_burn', [String(seconds)], { timeoutMs: (seconds + 300) * 1000 })).finally(() => (running = false));
  const everyMs = Math.max(5_000, (seconds * 1000) / 60);
  const samples: string[] = [];
  let fields: readonly string[] = stressSampleFields;
  while (running) {
    await Promise.race([burn, sleep(everyMs)]);
    if (!running) break;
    const query = (f: readonly string[]) => run('nvidia-smi', [`--query-gpu=${f.join(',')}`, '--format=csv,noheader,nounits']);
    const reading = await query(fields).catch(async () => {
      // A driver before 535 knows the reasons by their older name only.
      if (fields === olderSampleFields) return null;
      fields = olderSampleFields;
      return query(fields).catch(() => null);
    });
    if (reading !== null) samples.push(reading.trim());
  }
  const burned = await burn;
  // How long it ran, as timed here (review finding: the seconds asked were reported, so a run that died early passed).
  return { seconds: Math.floor((nowMs() - startedMs) / 1000), burn: burned, samples };
}

/**
 * What a simulated node's tools print, in their real formats (the parsers read them as they read real outputs):
 * `nvidia-smi nvlink -s` for the GPUs it shows, and an all_reduce_perf run whose bus bandwidth at 8 GiB is
 * `busbwGBs` (an 8x H100 SXM reaches about 480). No DCGM.
 */
export function simulatedAcceptanceOutputs(node: {
  hostname: string; gpus: Array<{ index: number; model: string; uuid: string; pciBusId: string; links: Array<number | null> }>; busbwGBs: number;
  /** The GPU whose cooling is weak: fine at idle, hot and slowed down under load. */
  weakCooling?: number;
  /** What its `nvidia-smi -q -x` prints once the suite is done. */
  gpuStateXml: string;
}, args: AcceptArgs): AcceptanceOutputs {
  const nvlink = node.gpus.map((g) => [`GPU ${g.index}: ${g.model} (UUID: ${g.uuid})`,
    ...g.links.map((l, i) => `\t Link ${i}: ${l === null ? '<inactive>' : `${l} GB/s`}`)].join('\n')).join('\n');
  const nvbandwidth = args.nvbandwidth ? { text: simulatedCopies(node.gpus) } : null;
  const stress = args.stressSeconds > 0 ? simulatedStress(node.gpus, args.stressSeconds, node.weakCooling) : null;
  const gpuState = { text: node.gpuStateXml };
  if (!args.nccl) return { nvlink: { text: `${nvlink}\n` }, dcgm: null, nccl: null, nvbandwidth, stress, gpuState };
  const n = node.gpus.length;
  const factor = n > 1 ? (2 * (n - 1)) / n : 1;
  const rows = [1, 2, 4, 8].map((gib, i) => {
    const size = gib * 1024 ** 3;
    const busbw = node.busbwGBs * (0.9 + 0.1 * (i / 3));
    const algbw = busbw / factor;
    const timeUs = size / (algbw * 1e3);
    const cell = (x: number) => x.toFixed(2).padStart(7);
    const measured = `${timeUs.toFixed(0).padStart(8)} ${cell(algbw)} ${cell(busbw)}      0`;
    return `${String(size).padStart(12)}  ${String(size / 4).padStart(12)}     float     sum      -1 ${measured} ${measured}`;
  });
  const nccl = [
    `# nThread 1 nGpus ${n} minBytes 1073741824 maxBytes 8589934592 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0`,
    '#', '# Using devices',
    ...node.gpus.map((g, rank) => `#  Rank ${String(rank).padStart(2)} Group  0 Pid   4242 on ${node.hostname} device ${String(g.index).padStart(2)} [${g.pciBusId.replace(/^0000/, '')}] ${g.model}`),
    '#', '#                                                              out-of-place                       in-place',
    '#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong',
    '#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)',
    ...rows,
    '# Out of bounds values : 0 OK',
    `# Avg bus bandwidth    : ${(node.busbwGBs * 0.95).toFixed(3)}`,
    '#',
  ].join('\n');
  return { nvlink: { text: `${nvlink}\n` }, dcgm: null, nccl: { text: `${nccl}\n` }, nvbandwidth, stress, gpuState };
}

/**
 * gpu_burn's output as it prints it (progress lines separated by carriage returns, then the verdicts) and three
 * nvidia-smi readings under load: about 60–64 °C with the power cap active (normal at full load); a GPU with weak
 * cooling climbs to 86 °C and the driver slows it down (sw_thermal_slowdown).
 */
function simulatedStress(gpus: ReadonlyArray<{ index: number }>, seconds: number, weakCooling?: number): NonNullable<AcceptanceOutputs['stress']> {
  const temp = (index: number, step: number) => (index === weakCooling ? 70 + 8 * step : 60 + step + (index % 3));
  const progress = [0, 1, 2].map((step) => `${((step + 1) * 100 / 3).toFixed(1)}%  proc'd: ${gpus.map(() => `${2261 * (step + 1)} (16950 Gflop/s)`).join(' - ')}   errors: ${gpus.map(() => '0').join(' - ')}   temps: ${gpus.map((g) => `${temp(g.index, step)} C`).join(' - ')} `);
  const burn = [
    ...gpus.map((g) => `GPU ${g.index}: NVIDIA (simulated)`), progress.join('\r'), 'Killing processes.. done', '', `Tested ${gpus.length} GPUs:`, ...gpus.map((g) => `\tGPU ${g.index}: OK`), '',
  ].join('\n');
  const mask = (index: number, step: number) => `0x${(index === weakCooling && step > 0 ? 0x24 : 0x4).toString(16).padStart(16, '0')}`;
  const samples = [0, 1, 2].map((step) => gpus.map((g) => `${g.index}, ${temp(g.index, step)}, ${mask(g.index, step)}`).join('\n'));
  return { seconds, burn: { text: burn }, samples };
}

/** nvbandwidth's two tests as it prints them: ~55.6 GB/s host to each GPU, ~389 GB/s between GPUs, half that with a GPU whose links are slow. */
function simulatedCopies(gpus: ReadonlyArray<{ index: number; links: Array<number | null> }>): string {
  const cell = (v: number | null) => (v === null ? 'N/A' : v.toFixed(2)).padStart(9);
  const slow = new Set(gpus.filter((g) => g.links.some((l) => l !== null && l < Math.max(...g.links.filter((x): x is number => x !== null)))).map((g) => g.index));
  const header = ` ${gpus.map((g) => String(g.index).padStart(9)).join(' ')}`;
  return [
    `Running ${hostCopyTest}.`, 'memcpy CE CPU(row) -> GPU(column) bandwidth (GB/s)', header, `0 ${gpus.map((g) => cell(55.6 - g.index * 0.01)).join(' ')}`, '',
    `Running ${peerCopyTest}.`, 'memcpy CE GPU(row) <- GPU(column) bandwidth (GB/s)', header,
    ...gpus.map((row) => `${row.index} ${gpus.map((col) => cell(col.index === row.index ? null : slow.has(col.index) || slow.has(row.index) ? 194.2 : 389.1)).join(' ')}`),
    '',
  ].join('\n');
}
