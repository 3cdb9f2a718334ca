// Every file in fixtures/nvidia (real outputs from public sources, see its
// README.md) is parsed here, with the conditions it must yield written out.
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  bucketRemediation, catalogedXids, classifyDcgmDiag, classifyDcgmHealth, classifyGpus, classifyKernelEvents, classifyNvlinks, xidInfo,
  type ConditionFinding,
} from '@metalfleet/domain';
import { parseDcgmDiag, parseDcgmHealth } from './dcgm.ts';
import { parseFabricManagerLog } from './fabric-manager-log.ts';
import { parseKernelLog } from './kernel-log.ts';
import { NcclTestParseError, parseNcclTestOutput } from './nccl-tests.ts';
import { lowestBandwidth, parseNvbandwidth } from './nvbandwidth.ts';
import { parseGpuBurn } from './gpu-burn.ts';
import { stressSampleFields } from '../acceptance-suite.ts';
import { parseNvidiaSmiCsv, telemetryQueryFields } from './nvidia-smi-csv.ts';
import { parseNvidiaSmiXml } from './nvidia-smi-xml.ts';
import { expectedNvlinks, parseNvlinkStatus, parseNvlinkThroughput } from './nvlink.ts';

const dir = new URL('../../fixtures/nvidia/', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, dir), 'utf8');
const now = new Date('2026-11-21T12:00:00Z');
const bare = { expectedGpuCount: null, virtualMachine: false };
const show = (findings: ConditionFinding[]) => findings.map((f) => `${f.component} ${f.code} ${f.severity} ${f.remediation}`);
const kernel = (text: string, parse = parseKernelLog) => show(classifyKernelEvents(parse(text).map((event) => ({ event, seenAt: now })), now));

const tested = new Set<string>();
const covers = (file: string) => tested.add(file);

describe('nvidia-smi -q -x fixtures', () => {
  const cases: Array<[string, string[]]> = [
    ['GuanceCloud__datakit__gtx-1card.xml', []], // healthy V100 under load
    ['GuanceCloud__datakit__gtx-8card.xml', []], // 8x V100S; sw_power_cap active is normal
    ['influxdata__telegraf__a100-sxm4-v12.xml', []], // MIG on: remapped rows N/A is not a failure
    ['influxdata__telegraf__a10g.xml', ['gpu:0000:00:1e pcie-width-degraded warning replace']], // x8 of x16 (an AWS VM: see the VM case below)
    ['influxdata__telegraf__dual_a5000-v13.xml', []],
    ['influxdata__telegraf__gtx-1660-ti.xml', []], // driver 418, no DTD
    ['influxdata__telegraf__pro-6000-maxq-blackwell-v13.xml', []], // T.Limit 68 C of headroom
    ['influxdata__telegraf__quadro-p2000-v12.xml', ['gpu:0000:17:00 pcie-width-degraded warning replace']],
    ['influxdata__telegraf__rtx-3080-v13.xml', []],
    ['influxdata__telegraf__rtx-3090-v12.xml', ['gpu:0000:00:10 power-capped warning none']], // 200 W of 350 W default
    ['influxdata__telegraf__rtx-4000-sff-ada-v13.xml', []],
    ['influxdata__telegraf__tesla-t4.xml', ['gpu:0000:00:1e pcie-width-degraded warning replace']],
    ['influxdata__telegraf__tesla_p4.xml', []], // vGPU guest: everything N/A, nothing invented
    ['netdata__go.d.plugin__a100-sxm4-mig.xml', []], // MIG: volatile ECC N/A
    ['netdata__go.d.plugin__rtx-2080-win.xml', ['gpu:0000:0a:00 pcie-width-degraded warning replace']],
    ['netdata__go.d.plugin__rtx-4090-driver-535.xml', []],
    ['netdata__go.d.plugin__tesla-p100.xml', ['gpu:0000:00:04 ecc-corrected-errors ok none']], // 3 lifetime single-bit errors
  ];
  it.each(cases)('%s', (file, expected) => {
    covers(file);
    expect(show(classifyGpus(parseNvidiaSmiXml(read(file)).gpus, bare))).toEqual(expected);
  });

  it('reads values across schemas, and sentinels as unknown, never 0', () => {
    const mig = parseNvidiaSmiXml(read('influxdata__telegraf__a100-sxm4-v12.xml'));
    expect(mig.attachedGpus).toBe(4); // trimmed capture: the header says 4, one <gpu> element
    expect(mig.gpus).toHaveLength(1);
    expect(mig.gpus[0]).toMatchObject({ migCurrent: 'Enabled', rowRemap: { correctable: null, pending: null, failure: null } });
    const p100 = parseNvidiaSmiXml(read('netdata__go.d.plugin__tesla-p100.xml')).gpus[0]!;
    expect(p100.ecc).toMatchObject({ aggregateCorrected: 3, volatileCorrected: 0, aggregateUncorrected: 0 });
    const blackwell = parseNvidiaSmiXml(read('influxdata__telegraf__pro-6000-maxq-blackwell-v13.xml')).gpus[0]!;
    expect(blackwell).toMatchObject({ recoveryAction: 'None', temperature: { gpuC: 24, tlimitC: 68 }, power: { drawW: 3.97, limitW: 300 }, ecc: { sramThresholdExceeded: null } });
    const v100s = parseNvidiaSmiXml(read('GuanceCloud__datakit__gtx-8card.xml'));
    expect(v100s.gpus).toHaveLength(8);
    expect(v100s.gpus.filter((g) => g.clockEventsActive?.includes('sw_power_cap'))).toHaveLength(2);
    const p4 = parseNvidiaSmiXml(read('influxdata__telegraf__tesla_p4.xml')).gpus[0]!;
    expect(p4.pcie).toEqual({ genCurrent: null, genMax: null, widthCurrent: null, widthMax: null, replayCounter: null });
    const old = parseNvidiaSmiXml(read('influxdata__telegraf__gtx-1660-ti.xml'));
    expect(old.driverVersion).toBe('418.43');
    const p2000 = parseNvidiaSmiXml(read('influxdata__telegraf__quadro-p2000-v12.xml')).gpus[0]!;
    expect(p2000.clockEventsActive).not.toBeNull(); // v12 DTD but old clocks_throttle_reasons tags
  });

  it('treats a narrower link as normal in a VM, and a missing GPU as critical', () => {
    const a10g = parseNvidiaSmiXml(read('influxdata__telegraf__a10g.xml')).gpus;
    expect(show(classifyGpus(a10g, { expectedGpuCount: 1, virtualMachine: true }))).toEqual(['gpu:0000:00:1e pcie-width-degraded ok none']);
    const v100s = parseNvidiaSmiXml(read('GuanceCloud__datakit__gtx-8card.xml')).gpus.slice(0, 7);
    expect(show(classifyGpus(v100s, { expectedGpuCount: 8, virtualMachine: false }))).toEqual(['node gpu-missing critical reboot']);
  });
});

describe('nvidia-smi --query-gpu CSV fixtures', () => {
  const h = 'utkuozdemir__nvidia_gpu_exporter__linux-x86_64__';
  const cases: Array<[string, string[]]> = [
    // The source doctored these ECC columns with a 4,5,6… sequence: the parser reports what is there.
    ['microsoft__VirtualClient__query-gpu-1xH100.csv', ['gpu:0000:0a:00 ecc-volatile-uncorrectable critical reset-gpu', 'gpu:0000:0a:00 ecc-corrected-errors ok none']],
    ['microsoft__VirtualClient__query-gpu-4xT4.csv', []], // P8 idle at Gen1 of Gen3: gen is judged only under load
    ['microsoft__VirtualClient__query-gpu-8xH100.csv', []],
    ['netdata__go.d.plugin__tesla-p100.csv', []],
    [`${h}nvidia-h100-80gb-hbm3__590.48.01.idle.query-gpu.csv`, []],
    [`${h}nvidia-h100-80gb-hbm3__590.48.01.load.query-gpu.csv`, []], // 632 W of 700 W, T.Limit 26 C
    [`${h}nvidia-h100-mig__590.48.01.idle.query-gpu.csv`, []],
    [`${h}nvidia-h100-mig__590.48.01.load.query-gpu.csv`, []], // MIG: remapped rows [N/A]
    [`${h}nvidia-h200-mig__590.48.01.idle.query-gpu.csv`, []],
    [`${h}nvidia-h200-mig__590.48.01.load.query-gpu.csv`, []],
    [`${h}nvidia-h200__590.48.01.idle.query-gpu.csv`, []],
    [`${h}nvidia-h200__590.48.01.load.query-gpu.csv`, []],
    [`${h}nvidia-l40s__595.80.idle.query-gpu.csv`, []],
    [`${h}nvidia-l40s__595.80.load.query-gpu.csv`, []],
  ];
  it.each(cases)('%s', (file, expected) => {
    covers(file);
    expect(show(classifyGpus(parseNvidiaSmiCsv(read(file)), bare))).toEqual(expected);
  });

  it('reads the H100 under load: power, T.Limit, fabric, clock events from the hex mask', () => {
    const [gpu] = parseNvidiaSmiCsv(read(`${h}nvidia-h100-80gb-hbm3__590.48.01.load.query-gpu.csv`));
    expect(gpu).toMatchObject({ power: { drawW: 631.95, limitW: 700, defaultLimitW: 700 }, temperature: { gpuC: 59, tlimitC: 26 }, fabric: { state: 'Completed', status: 'Success' }, clockEventsActive: [], rowRemap: { failure: false, banksWithoutSpares: 0 } });
    const [idle] = parseNvidiaSmiCsv(read(`${h}nvidia-h100-80gb-hbm3__590.48.01.idle.query-gpu.csv`));
    expect(idle?.clockEventsActive).toEqual(['gpu_idle']);
    const [mig] = parseNvidiaSmiCsv(read(`${h}nvidia-h100-mig__590.48.01.load.query-gpu.csv`));
    expect(mig?.rowRemap.pending).toBeNull();
  });
});

describe('full capture fixtures (nvlink -s section)', () => {
  const section = (capture: string) => {
    const lines = (capture.split('# $ nvidia-smi nvlink -s')[1] ?? '').split('\n');
    const body = lines.slice(lines.findIndex((l) => l.startsWith('####')) + 1);
    return body.slice(0, body.findIndex((l) => l.startsWith('####'))).join('\n');
  };
  const cases: Array<[string, number, string[]]> = [
    ['utkuozdemir__nvidia_gpu_exporter__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt', 18, []],
    // "Nvlink queries are not supported for Devices in MIG mode": unknown, not down.
    ['utkuozdemir__nvidia_gpu_exporter__linux-x86_64__nvidia-h100-mig__590.48.01.txt', 0, []],
    ['utkuozdemir__nvidia_gpu_exporter__linux-x86_64__nvidia-h200__590.48.01.txt', 18, []],
    ['utkuozdemir__nvidia_gpu_exporter__linux-x86_64__nvidia-h200-mig__590.48.01.txt', 0, []],
    ['utkuozdemir__nvidia_gpu_exporter__linux-x86_64__nvidia-l40s__595.80.txt', 0, []], // no NVLink on a PCIe card
  ];
  it.each(cases)('%s', (file, activeLinks, expected) => {
    covers(file);
    const gpus = parseNvlinkStatus(section(read(file)));
    expect(gpus).toHaveLength(1);
    expect(gpus[0]!.links.filter((l) => l !== null)).toHaveLength(activeLinks);
    const model = /GPU 0: (.*) \(UUID/.exec(section(read(file)))?.[1] ?? '';
    expect(show(classifyNvlinks(gpus, expectedNvlinks(model)))).toEqual(expected);
  });
});

describe('NVLink fixtures', () => {
  it('nvlink -s on 8x A100: 12 links of 25 GB/s each, healthy; one inactive link is critical', () => {
    const file = 'leptonai__gpud__nvidia-smi.nvlink.status.a100';
    covers(file);
    const gpus = parseNvlinkStatus(read(file));
    expect(gpus.map((g) => g.links.length)).toEqual([12, 12, 12, 12, 12, 12, 12, 12]);
    expect(classifyNvlinks(gpus, 12)).toEqual([]);
    const broken = parseNvlinkStatus(read(file).replace(/(GPU 3:[^\n]*\n(?:.*\n){4})\s*Link 4: 25 GB\/s/, '$1         Link 4: <inactive>'));
    expect(show(classifyNvlinks(broken, 12))).toEqual(['gpu-nvlink:3 nvlink-down critical reset-gpu']);
  });

  it('nvlink -gt d: per-link data counters', () => {
    const file = 'microsoft__VirtualClient__query-nvlink.txt';
    covers(file);
    const [gpu0] = parseNvlinkThroughput(read(file));
    expect(gpu0?.links[0]).toEqual({ txKiB: 1040, rxKiB: 200.3 });
    expect(gpu0?.links.length).toBe(12);
  });
});

describe('kernel log fixtures', () => {
  it('XE9680 dmesg: an Xid 119 storm is one reset-gpu finding', () => {
    const file = 'leptonai__gpud__dmesg-with-xid-119.log';
    covers(file);
    expect(kernel(read(file))).toEqual(['gpu:0000:9b:00 xid-119 critical reset-gpu']);
    // With the first distinct raw lines that raised it, for the vendor (issue 22: "their raw source lines").
    const [found] = classifyKernelEvents(parseKernelLog(read(file)).map((event) => ({ event, seenAt: now })), now);
    expect(found?.evidence).toHaveLength(3);
    expect(found?.evidence?.[0]).toBe('[Sun Feb 23 16:24:18 2025] NVRM: Xid (PCI:0000:9b:00): 119, pid=2024380, name=nvidia-smi, Timeout after 6s of waiting for RPC response from GPU4 GSP! Expected function 103 (GSP_RM_ALLOC) (0x2081 0x4).');
  });

  it('dmesg --decode --time-format=iso: an Xid 13 burst then Xid 43, application level', () => {
    const file = 'leptonai__gpud__dmesg.decode.iso.log';
    covers(file);
    expect(kernel(read(file))).toEqual(['gpu:0000:38:00 xid-13 ok none', 'gpu:0000:38:00 xid-43 ok none']);
  });

  it('curated lines: every format, fallen-off-bus without Xid, root causes, NVLink5, Xid 154, SXid', () => {
    const file = 'curated__multiple-sources__xid-kernel-log-lines.txt';
    covers(file);
    expect(kernel(read(file))).toEqual([
      'gpu:0000:91:00 xid-79 critical reboot', // Xid line and the "GPU has fallen off the bus" line after it: one finding
      'nvswitch:0000:06:00 sxid-20034-fatal critical reboot',
      'nvswitch:0000:05:00 sxid-20034-fatal critical reboot',
      'nvswitch:0000:07:00 sxid-20034-fatal critical reboot',
      'gpu:0000:cb:00 xid-13 ok none',
      'gpu:0000:cb:00 xid-109 warning none',
      'gpu:0019:01:00 xid-149 critical reset-gpu', // "Fatal" in the NVLink5 line
      'gpu:0000:00:00 xid-149 critical reset-gpu',
      'gpu:0018:01:00 xid-145 warning none', // "Nonfatal": monitor
      'gpu:0008:01:00 xid-145 warning none',
      'gpu:0000:dc:00 xid-149 critical reset-gpu', // Xid 45 "caused by previous Xid 149" → its root
      'gpu:0000:ed:00 xid-145 critical reset-gpu',
      'gpu:0000:ba:00 xid-145 critical reset-gpu',
      'gpu:0000:97:00 xid-145 critical reset-gpu',
      'gpu:0000:b3:00 xid-79 critical reboot', // multi-line fallen-off-bus with no Xid line
      'gpu:0000:01:00 xid-62 critical reset-gpu',
      'gpu:0000:01:00 xid-154 critical reset-gpu', // "to 0x1 (GPU Reset Required)"
      'gpu:0000:10:1c xid-63 warning reset-gpu',
      'pci:0000:04:00 pcie-bandwidth-limited warning none',
      'pci:0000:8b:00 pcie-bandwidth-limited warning none',
      'gpu:0000:08:00 xid-31 ok none',
      'gpu:0000:01:00 xid-31 ok none', // driver-418 format without pid/name
      'gpu:0000:01:00 xid-13 ok none',
      'gpu:0000:01:00 xid-32 ok none',
      'nvswitch:0000:04:00 sxid-22013 warning none', // non-fatal SXid
    ]);
  });

  it('fabric manager log: an NVSwitch non-fatal error', () => {
    const file = 'leptonai__gpud__fabricmanager.log';
    covers(file);
    expect(kernel(read(file), parseFabricManagerLog)).toEqual(['nvswitch:0000:86:00 sxid-12028 warning none']);
  });

  it('ages out application-level Xids after an hour, keeps hardware ones', () => {
    const events = parseKernelLog(read('leptonai__gpud__dmesg.decode.iso.log') + '\n' + read('leptonai__gpud__dmesg-with-xid-119.log'));
    const later = new Date(now.getTime() + 2 * 3600_000);
    expect(show(classifyKernelEvents(events.map((event) => ({ event, seenAt: now })), later))).toEqual(['gpu:0000:9b:00 xid-119 critical reset-gpu']);
  });
});

describe('DCGM fixtures', () => {
  it.each(['microsoft__VirtualClient__DCGMIDiag_r1_results.json', 'microsoft__VirtualClient__DCGMIDiag_r2_results.json', 'microsoft__VirtualClient__DCGMIDiag_r3_results.json'])(
    '%s: every test passes or is skipped', (file) => {
      covers(file);
      const results = parseDcgmDiag(read(file));
      expect(results.length).toBeGreaterThan(5);
      expect(new Set(results.map((r) => r.status))).toEqual(new Set(file.includes('r3') ? ['pass', 'skip'] : ['pass']));
      expect(classifyDcgmDiag(results)).toEqual([]);
      const failed = results.map((r) => (r.test === 'Memory Bandwidth' || r.test === 'PCIe' ? { ...r, status: 'fail' as const, errorSeverity: 6 } : r));
      expect(show(classifyDcgmDiag(failed)).every((s) => s.endsWith('critical reset-gpu'))).toBe(true);
    });

  it('dcgmi health -c -j: healthy', () => {
    const file = 'microsoft__VirtualClient__DCGMIHealthCheckResults.json';
    covers(file);
    const report = parseDcgmHealth(read(file));
    expect(report).toEqual({ overall: 'pass', findings: [] });
    expect(classifyDcgmHealth(report.findings)).toEqual([]);
  });
});

describe('NCCL tests fixtures', () => {
  it('all_reduce_perf on 2 nodes of 8 H100: the 16 ranks, every size, the bus bandwidth at 8 GiB, no wrong result', () => {
    const file = 'lessizzmore__create-a3mega-ztan-fork__ztan-NCCL-test-result.txt';
    covers(file);
    const result = parseNcclTestOutput(read(file));
    expect(result.devices).toHaveLength(16);
    expect(result.devices[15]).toEqual({ rank: 15, host: 'ztan-mig-gq73', device: 7, pciBusId: '0000:8c:00', model: 'NVIDIA H100 80GB HBM3' });
    expect(result.rows).toHaveLength(31);
    expect(result.rows[0]).toEqual({ sizeBytes: 8, count: 2, type: 'float', redop: 'sum',
      outOfPlace: { timeUs: 135.8, algbwGBs: 0, busbwGBs: 0, wrong: 0 }, inPlace: { timeUs: 123.5, algbwGBs: 0, busbwGBs: 0, wrong: 0 } });
    expect(result.rows.at(-1)?.sizeBytes).toBe(8589934592);
    expect(result).toMatchObject({ busbwAtLargestGBs: 338.82, avgBusbwGBs: 70.742, outOfBounds: { count: 0, ok: true }, wrongTotal: 0 });
  });

  it('says what is wrong with output that is not a result: a run that failed before measuring, a damaged row', () => {
    expect(() => parseNcclTestOutput('# nThread 1 nGpus 8\nNCCL error: unhandled cuda error\n')).toThrow(NcclTestParseError);
    const rows = read('lessizzmore__create-a3mega-ztan-fork__ztan-NCCL-test-result.txt').replace('135.8    0.00    0.00', 'abc    0.00    0.00');
    expect(() => parseNcclTestOutput(rows)).toThrow(/not a NCCL tests result row: 8 +2 +float/);
    // A GPU corrupting data shows as wrong results, and a FAILED bounds check.
    const corrupt = read('lessizzmore__create-a3mega-ztan-fork__ztan-NCCL-test-result.txt')
      .replace('338.82      0    47743  179.92  337.35      0', '338.82      3    47743  179.92  337.35      2').replace(': 0 OK', ': 1 FAILED');
    expect(parseNcclTestOutput(corrupt)).toMatchObject({ wrongTotal: 5, outOfBounds: { count: 1, ok: false } });
  });
});

describe('nvbandwidth fixtures', () => {
  it('NVIDIA\'s example outputs: each test\'s matrix; the slow GPU at 6.20 GB/s from the host', () => {
    const file = 'NVIDIA__nvbandwidth__README-examples.txt';
    covers(file);
    const matrices = parseNvbandwidth(read(file));
    expect(matrices).toEqual([
      { test: 'host_to_device_memcpy_ce', columns: [0, 1], rows: [{ index: 0, values: [6.2, 12.36] }] },
      { test: 'host_to_device_bidirectional_memcpy_ce', columns: [0, 1], rows: [{ index: 0, values: [5.64, 11.16] }] },
    ]);
    expect(lowestBandwidth(matrices, 'host_to_device_memcpy_ce')).toEqual({ gbs: 6.2, row: 0, column: 0 });
  });
});

describe('gpu_burn fixtures', () => {
  it('an 8x A100 SXM4 run (progress lines split by carriage returns): every GPU OK, no error, its hottest temperature', () => {
    const file = 'microsoft__superbenchmark__gpu_burn.log';
    covers(file);
    expect(parseGpuBurn(read(file)).gpus.map((g) => `${g.index} ${g.result} ${g.errors} ${g.peakTempC}`)).toEqual([
      '0 OK 0 62', '1 OK 0 59', '2 OK 0 58', '3 OK 0 60', '4 OK 0 60', '5 OK 0 59', '6 OK 0 58', '7 OK 0 61',
    ]);
  });
});

describe('reference fixtures', () => {
  it('our telemetry query asks only for fields nvidia-smi documents', () => {
    const file = 'netdata__go.d.plugin__help-query-gpu.txt';
    covers(file);
    const help = read(file) + read('utkuozdemir__nvidia_gpu_exporter__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt');
    for (const field of [...telemetryQueryFields, ...stressSampleFields]) expect(help, field).toContain(`"${field}"`);
  });

  it('our Xid catalog follows NVIDIA\'s buckets (NVSentinel map), except where GPU-HEALTH.md decides otherwise', () => {
    const file = 'NVIDIA__NVSentinel__xiderrorsmapping.csv';
    covers(file);
    const rows = read(file).trim().split('\n').map((l) => l.split(','));
    expect(rows.length).toBeGreaterThan(150);
    // Deliberate: 48/64/74/79/119/120… are decided by companions, workflows or the node (GPU-HEALTH.md §2).
    const deliberate = new Set([45, 48, 54, 62, 64, 74, 79, 80, 81, 92, 109, 119, 120, 121, 136, 140, 143, 144, 145, 146, 147, 148, 149, 150, 154, 155, 156, 157, 158, 46, 110, 95, 63, 65]);
    const disagreements: string[] = [];
    for (const [xid, , bucket] of rows) {
      const code = Number(xid);
      const theirs = bucketRemediation(bucket ?? '');
      if (!catalogedXids().includes(code) || deliberate.has(code) || theirs === null) continue;
      if (xidInfo(code).remediation !== theirs) disagreements.push(`${code}: ours ${xidInfo(code).remediation}, NVIDIA ${bucket}`);
    }
    expect(disagreements).toEqual([]);
  });

  it('NVSentinel\'s DCGM map uses only buckets we know, and its memory actions match ours', () => {
    const file = 'NVIDIA__NVSentinel__dcgmerrorsmapping.csv';
    covers(file);
    const map = new Map(read(file).trim().split('\n').map((l) => l.split(',') as [string, string]));
    expect(map.size).toBeGreaterThan(100);
    for (const [fr, bucket] of map) expect(bucketRemediation(bucket), `${fr} ${bucket}`).not.toBeNull();
    expect(bucketRemediation(map.get('DCGM_FR_VOLATILE_DBE_DETECTED')!)).toBe('reset-gpu'); // = ecc-volatile-uncorrectable
    expect(bucketRemediation(map.get('DCGM_FR_PENDING_ROW_REMAP')!)).toBe('reset-gpu'); // = row-remap-pending
    expect(bucketRemediation(map.get('DCGM_FR_ROW_REMAP_FAILURE')!)).toBe('replace'); // = row-remap-failure
  });

  it('covers every fixture file', () => {
    const all = readdirSync(dir).filter((f) => f !== 'README.md');
    expect(all.filter((f) => !tested.has(f))).toEqual([]);
  });
});
