// Temperature limits the input does not give (CSV, T.Limit-only drivers) fall
// back to T.Limit, the model's limits or a generic default: a hot GPU is never
// "ok" for want of threshold fields. Real captures, with the temperature raised.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluateHealth, gpuThermalLimits, modelLimits, type GpuSnapshot, type HealthContext } from '@metalfleet/domain';
import { parseNvidiaSmiCsv } from './nvidia-smi-csv.ts';
import { parseNvidiaSmiXml } from './nvidia-smi-xml.ts';

const dir = new URL('../../fixtures/nvidia/', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, dir), 'utf8');
const context: HealthContext = { expectedGpuCount: null, virtualMachine: false, expectedNvlinksPerGpu: null, now: new Date('2026-11-21T12:00:00Z') };
const health = (gpus: GpuSnapshot[]) => evaluateHealth({ gpus: { ok: true, gpus }, kernelEvents: [], failures: [] }, context);
const show = (gpus: GpuSnapshot[]) => health(gpus).map((f) => `${f.component} ${f.code} ${f.severity}`);

/** A CSV capture with one field of its first data row replaced. */
function csvWith(csv: string, field: string, value: string): string {
  const [header = '', first = '', ...rest] = csv.split('\n');
  const column = header.split(',').map((h) => h.trim()).indexOf(field);
  expect(column, field).toBeGreaterThanOrEqual(0);
  const cells = first.split(',');
  cells[column] = ` ${value}`;
  return [header, cells.join(','), ...rest].join('\n');
}

const h100s = 'microsoft__VirtualClient__query-gpu-8xH100.csv'; // driver 535: temperature.gpu, no threshold or T.Limit field
const t4s = 'microsoft__VirtualClient__query-gpu-4xT4.csv';

describe('CSV input (no threshold fields)', () => {
  it('the real captures stay healthy', () => {
    expect(show(parseNvidiaSmiCsv(read(h100s)))).toEqual([]);
    expect(show(parseNvidiaSmiCsv(read(t4s)))).toEqual([]);
  });

  it('an H100 at 95 C is critical, at the H100 limits', () => {
    const gpus = parseNvidiaSmiCsv(csvWith(read(h100s), 'temperature.gpu', '95'));
    expect(show(gpus)).toEqual(['gpu:0000:0a:00 temperature-critical critical']);
    expect(health(gpus)[0]?.message).toBe('GPU at 95 C, shutdown threshold 95 C (NVIDIA H100 80GB HBM3 (SXM) limit)');
    expect(show(parseNvidiaSmiCsv(csvWith(read(h100s), 'temperature.gpu', '90')))).toEqual(['gpu:0000:0a:00 temperature-high warning']);
  });

  it('a known model uses its own limit: a T4 at 94 C is past its 93 C slowdown, not at its 96 C shutdown', () => {
    const gpus = parseNvidiaSmiCsv(csvWith(read(t4s), 'temperature.gpu', '94'));
    expect(show(gpus)).toEqual(['gpu:0001:00:00 temperature-high warning']);
    expect(health(gpus)[0]?.message).toBe('GPU at 94 C, slowdown threshold 93 C (Tesla T4 limit)');
  });

  it('a model the table does not know, at 95 C, is critical by the generic limits', () => {
    const gpus = parseNvidiaSmiCsv(csvWith(csvWith(read(h100s), 'temperature.gpu', '95'), 'name', 'NVIDIA B200'));
    expect(show(gpus)).toEqual(['gpu:0000:0a:00 temperature-critical critical']);
    expect(health(gpus)[0]?.message).toBe('GPU at 95 C, shutdown threshold 90 C (generic limit: nvidia-smi gave none for this GPU)');
  });

  it('HBM past the model\'s memory limit (A100 SXM4: 95 C) is flagged without a threshold field', () => {
    const gpus = parseNvidiaSmiCsv(csvWith(csvWith(read(h100s), 'name', 'NVIDIA A100-SXM4-80GB'), 'temperature.memory', '96'));
    expect(show(gpus)).toEqual(['gpu:0000:0a:00 memory-temperature-high warning']);
  });
});

describe('XML that gives only T.Limit', () => {
  const cases: Array<[string, number, number]> = [
    // file, slowdown, shutdown: current + T.Limit + the printed offsets
    ['influxdata__telegraf__pro-6000-maxq-blackwell-v13.xml', 24 + 68 + 2, 24 + 68 + 5], // -2 C / -5 C
    ['influxdata__telegraf__rtx-4000-sff-ada-v13.xml', 38 + 49 + 2, 38 + 49 + 7], // -2 C / -7 C
    ['netdata__go.d.plugin__rtx-4090-driver-535.xml', 40 + 43 + 2, 40 + 43 + 7],
  ];
  it.each(cases)('%s: thresholds derived', (file, slowdownC, shutdownC) => {
    const [gpu] = parseNvidiaSmiXml(read(file)).gpus;
    expect(gpu?.temperature).toMatchObject({ slowdownC: null, shutdownC: null });
    expect(gpuThermalLimits(gpu!)).toMatchObject({ slowdown: { celsius: slowdownC, source: 't-limit' }, shutdown: { celsius: shutdownC, source: 't-limit' } });
  });

  it('without the offset lines, the default offsets (-2 C, -5 C)', () => {
    const xml = read('influxdata__telegraf__pro-6000-maxq-blackwell-v13.xml').replace(/\s*<gpu_temp_(max|slow)_tlimit_threshold>[^<]*<\/gpu_temp_\w+>/g, '');
    const [gpu] = parseNvidiaSmiXml(xml).gpus;
    expect(gpu?.temperature).toMatchObject({ tlimitC: 68, slowdownTlimitC: null, shutdownTlimitC: null });
    expect(gpuThermalLimits(gpu!)).toMatchObject({ slowdown: { celsius: 94, source: 't-limit' }, shutdown: { celsius: 97, source: 't-limit' } });
  });

  it('a Blackwell GPU 3 C past its limit is critical', () => {
    const xml = read('influxdata__telegraf__pro-6000-maxq-blackwell-v13.xml')
      .replace('<gpu_temp>24 C</gpu_temp>', '<gpu_temp>95 C</gpu_temp>').replace('<gpu_temp_tlimit>68 C</gpu_temp_tlimit>', '<gpu_temp_tlimit>-3 C</gpu_temp_tlimit>');
    expect(show(parseNvidiaSmiXml(xml).gpus)).toEqual(['gpu:0000:61:00 temperature-critical critical']);
  });
});

describe('the model table agrees with the captures it cites', () => {
  it.each([
    'influxdata__telegraf__a100-sxm4-v12.xml', 'netdata__go.d.plugin__a100-sxm4-mig.xml', 'GuanceCloud__datakit__gtx-1card.xml',
    'GuanceCloud__datakit__gtx-8card.xml', 'netdata__go.d.plugin__tesla-p100.xml', 'influxdata__telegraf__tesla-t4.xml', 'influxdata__telegraf__a10g.xml',
  ])('%s: what the driver reports', (file) => {
    for (const gpu of parseNvidiaSmiXml(read(file)).gpus) {
      const row = modelLimits(gpu.model);
      expect(row, gpu.model).toBeDefined();
      expect({ slowdownC: row!.slowdownC, shutdownC: row!.shutdownC, memoryMaxC: row!.memoryMaxC })
        .toEqual({ slowdownC: gpu.temperature.slowdownC, shutdownC: gpu.temperature.shutdownC, memoryMaxC: gpu.temperature.memoryMaxC });
    }
  });

  const h = 'utkuozdemir__nvidia_gpu_exporter__linux-x86_64__';
  it.each([`${h}nvidia-h100-80gb-hbm3__590.48.01.idle.query-gpu.csv`, `${h}nvidia-h200__590.48.01.idle.query-gpu.csv`, `${h}nvidia-l40s__595.80.idle.query-gpu.csv`])(
    '%s: idle temperature + T.Limit + 2 C is the slowdown', (file) => {
      const [gpu] = parseNvidiaSmiCsv(read(file));
      expect(modelLimits(gpu!.model)?.slowdownC).toBe(gpu!.temperature.gpuC! + gpu!.temperature.tlimitC! + 2);
    });
});
