// The clock event (throttle) reasons of every real capture that reports them,
// and what an active hardware slowdown in such a capture turns into: the
// condition an operator sees.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluateHealth, type HealthContext } from '@metalfleet/domain';
import { parseNvidiaSmiCsv } from './nvidia-smi-csv.ts';
import { parseNvidiaSmiXml } from './nvidia-smi-xml.ts';

const dir = new URL('../../fixtures/nvidia/', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, dir), 'utf8');
const context: HealthContext = { expectedGpuCount: null, virtualMachine: false, expectedNvlinksPerGpu: null, now: new Date('2026-11-21T12:00:00Z') };
const conditions = (xml: string) => evaluateHealth({ gpus: { ok: true, gpus: parseNvidiaSmiXml(xml).gpus }, kernelEvents: [], failures: [] }, context)
  .map((f) => `${f.component} ${f.code} ${f.severity} ${f.remediation}`);

/** The five cumulative counters (µs) 590+ drivers print, under the reason names both parsers use. */
const counters = (swPowerCap: number) => ({ sw_power_cap: swPowerCap, sync_boost: 0, sw_thermal_slowdown: 0, hw_thermal_slowdown: 0, hw_power_brake_slowdown: 0 });

describe('clock event reasons in every nvidia-smi -q -x fixture', () => {
  const cases: Array<[string, Array<{ active: string[] | null; counters: Record<string, number> }>]> = [
    // <clocks_throttle_reasons> (before 535)
    ['GuanceCloud__datakit__gtx-1card.xml', [{ active: [], counters: {} }]],
    ['GuanceCloud__datakit__gtx-8card.xml', [0, 1, 2, 3, 4, 5, 6, 7].map((i) => ({ active: i === 3 || i === 6 ? ['sw_power_cap'] : [], counters: {} }))],
    ['influxdata__telegraf__a10g.xml', [{ active: ['gpu_idle'], counters: {} }]],
    ['influxdata__telegraf__gtx-1660-ti.xml', [{ active: ['gpu_idle'], counters: {} }]],
    ['influxdata__telegraf__quadro-p2000-v12.xml', [{ active: ['gpu_idle'], counters: {} }]], // v12 DTD, old tags
    ['influxdata__telegraf__rtx-3090-v12.xml', [{ active: ['gpu_idle'], counters: {} }]],
    ['influxdata__telegraf__tesla-t4.xml', [{ active: [], counters: {} }]],
    ['influxdata__telegraf__tesla_p4.xml', [{ active: null, counters: {} }]], // vGPU guest: the block is just "N/A"
    ['netdata__go.d.plugin__a100-sxm4-mig.xml', [{ active: [], counters: {} }]],
    ['netdata__go.d.plugin__rtx-2080-win.xml', [{ active: ['gpu_idle'], counters: {} }]],
    ['netdata__go.d.plugin__tesla-p100.xml', [{ active: ['gpu_idle'], counters: {} }]],
    // <clocks_event_reasons> (535 and later, DTD v12/v13)
    ['influxdata__telegraf__a100-sxm4-v12.xml', [{ active: [], counters: {} }]], // 535.54.03: no counters yet
    ['netdata__go.d.plugin__rtx-4090-driver-535.xml', [{ active: ['gpu_idle'], counters: {} }]],
    ['influxdata__telegraf__dual_a5000-v13.xml', [{ active: ['gpu_idle'], counters: counters(31637354094) }, { active: ['gpu_idle'], counters: counters(31195898111) }]],
    ['influxdata__telegraf__pro-6000-maxq-blackwell-v13.xml', [{ active: [], counters: counters(25483012608) }]],
    ['influxdata__telegraf__rtx-3080-v13.xml', [{ active: [], counters: counters(0) }]],
    ['influxdata__telegraf__rtx-4000-sff-ada-v13.xml', [{ active: ['gpu_idle'], counters: counters(4251825415) }]],
  ];
  it.each(cases)('%s', (file, expected) => {
    const gpus = parseNvidiaSmiXml(read(file)).gpus;
    expect(gpus.map((g) => ({ active: g.clockEventsActive, counters: g.clockEventCounters }))).toEqual(expected);
  });
});

describe('clock event reasons in every --query-gpu CSV fixture that queried them', () => {
  const h = 'utkuozdemir__nvidia_gpu_exporter__linux-x86_64__';
  const cases: Array<[string, string[], number]> = [
    [`${h}nvidia-h100-80gb-hbm3__590.48.01.idle.query-gpu.csv`, ['gpu_idle'], 0],
    [`${h}nvidia-h100-80gb-hbm3__590.48.01.load.query-gpu.csv`, [], 0],
    [`${h}nvidia-h100-mig__590.48.01.idle.query-gpu.csv`, ['gpu_idle'], 0],
    [`${h}nvidia-h100-mig__590.48.01.load.query-gpu.csv`, [], 0],
    [`${h}nvidia-h200-mig__590.48.01.idle.query-gpu.csv`, ['gpu_idle'], 0],
    [`${h}nvidia-h200-mig__590.48.01.load.query-gpu.csv`, [], 0],
    [`${h}nvidia-h200__590.48.01.idle.query-gpu.csv`, ['gpu_idle'], 0],
    [`${h}nvidia-h200__590.48.01.load.query-gpu.csv`, [], 0],
    [`${h}nvidia-l40s__595.80.idle.query-gpu.csv`, [], 200740215],
    [`${h}nvidia-l40s__595.80.load.query-gpu.csv`, [], 204642816],
  ];
  it.each(cases)('%s', (file, active, swPowerCap) => {
    const gpus = parseNvidiaSmiCsv(read(file));
    expect(gpus.map((g) => ({ active: g.clockEventsActive, counters: g.clockEventCounters }))).toEqual([{ active, counters: counters(swPowerCap) }]);
  });
});

/** A real capture with some of its reasons switched to Active, as the driver prints them under a fault. */
function activate(xml: string, ...reasons: string[]): string {
  let out = xml;
  for (const reason of reasons) {
    const tag = new RegExp(`(<clocks_(?:event|throttle)_reason_${reason}>)\\s*Not Active\\s*(</)`, 'g');
    expect(tag.test(out), `${reason} in the capture`).toBe(true);
    out = out.replace(tag, '$1Active$2');
  }
  return out;
}

describe('an active hardware slowdown in a capture becomes a health condition', () => {
  const cases: Array<[string, string, string[], string[]]> = [
    ['HW thermal slowdown, RTX 3080 on 595 (v13)', 'influxdata__telegraf__rtx-3080-v13.xml', ['hw_slowdown', 'hw_thermal_slowdown'], ['gpu:0000:0c:00 thermal-slowdown warning none']],
    ['HW power brake, A100 SXM4 on 535 (v12)', 'influxdata__telegraf__a100-sxm4-v12.xml', ['hw_slowdown', 'hw_power_brake_slowdown'], ['gpu:0000:01:00 power-brake-slowdown warning none']],
    ['SW thermal slowdown, RTX 4090 on 535 (v12)', 'netdata__go.d.plugin__rtx-4090-driver-535.xml', ['sw_thermal_slowdown'], ['gpu:0000:84:00 thermal-slowdown warning none']],
    ['HW thermal slowdown, RTX PRO 6000 Blackwell on 590 (v13)', 'influxdata__telegraf__pro-6000-maxq-blackwell-v13.xml', ['hw_slowdown', 'hw_thermal_slowdown'], ['gpu:0000:61:00 thermal-slowdown warning none']],
    ['HW thermal slowdown, V100 on 460 (old tags)', 'GuanceCloud__datakit__gtx-1card.xml', ['hw_slowdown', 'hw_thermal_slowdown'], ['gpu:0000:21:01 thermal-slowdown warning none']],
  ];
  it.each(cases)('%s', (_name, file, reasons, expected) => {
    expect(conditions(read(file))).toEqual([]);
    expect(conditions(activate(read(file), ...reasons))).toEqual(expected);
  });
});

describe('a slowdown between two samples shows in the counters (590+)', () => {
  it('RTX 3080 (v13): the HW thermal slowdown counter grows, no reason active at either sample', () => {
    const before = read('influxdata__telegraf__rtx-3080-v13.xml');
    const after = before.replace(/<clocks_event_reasons_counters_hw_therm_slowdown>0 us</, '<clocks_event_reasons_counters_hw_therm_slowdown>2500000 us<');
    const previous = { snapshots: parseNvidiaSmiXml(before).gpus, elapsedSeconds: 60 };
    const findings = evaluateHealth({ gpus: { ok: true, gpus: parseNvidiaSmiXml(after).gpus }, kernelEvents: [], failures: [] }, { ...context, previous });
    expect(findings.map((f) => `${f.component} ${f.code} ${f.severity}: ${f.message}`)).toEqual([
      'gpu:0000:0c:00 thermal-slowdown warning: hardware thermal slowdown for 2.5 s since the last sample: check cooling',
    ]);
  });
});
