// The acceptance suite's facts: from real outputs (NCCL tests on 2 x 8 H100, DCGM diag level 3, nvlink -s of an
// A100), and from what a simulated node prints, through the same parsers.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acceptanceLimits, acceptanceReportBytes, acceptSuite, gpuStateOutput, checkStress, defaultSkuProfiles, failingChecks, judgeAcceptance, nodeSku } from '@metalfleet/domain';
import { acceptanceFacts, keptOutputChars, runStress, simulatedAcceptanceOutputs } from './acceptance-suite.ts';
import { parseNvidiaSmiXml } from './parsers/nvidia-smi-xml.ts';
import { createSimulatedBackend } from './simulated-backend.ts';
import type { FaultKind } from './simulated-faults.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'nvidia', name), 'utf8');

describe('acceptance facts from real outputs', () => {
  it('reads the bus bandwidth, the devices and the wrong results of a real all_reduce_perf run; DCGM\'s tests; the links', () => {
    const facts = acceptanceFacts({
      nvlink: { text: fixture('leptonai__gpud__nvidia-smi.nvlink.status.a100') },
      dcgm: { text: fixture('microsoft__VirtualClient__DCGMIDiag_r3_results.json') },
      nccl: { text: fixture('lessizzmore__create-a3mega-ztan-fork__ztan-NCCL-test-result.txt') },
      nvbandwidth: { text: fixture('NVIDIA__nvbandwidth__README-examples.txt') },
      stress: { seconds: 60, burn: { text: fixture('microsoft__superbenchmark__gpu_burn.log') }, samples: [] },
      gpuState: { text: fixture('GuanceCloud__datakit__gtx-8card.xml') },
    });
    // gpu_burn's own temperatures; nvidia-smi was not read under load, so the clock events are not known.
    expect(facts.stress).toMatchObject({ tool: 'gpu_burn', seconds: 60, sampled: false });
    expect(facts.stress?.gpus.map((g) => `${g.result} ${g.peakTempC}`)).toEqual(['OK 62', 'OK 59', 'OK 58', 'OK 60', 'OK 60', 'OK 59', 'OK 58', 'OK 61']);
    expect(facts.copies).toEqual({ hostToDevice: { gbs: 6.2, gpu: 0 }, peer: null });
    expect(facts.nccl).toEqual({ busbwGBs: 338.82, sizeBytes: 8589934592, wrongResults: 0, devices: 16, tool: 'all_reduce_perf' });
    expect(facts.dcgm?.length).toBeGreaterThan(3);
    expect(facts.nvlinks?.[0]?.links.length).toBe(12);
    expect(facts.outputs.map((o) => o.tool)).toEqual(['nvidia-smi nvlink -s', 'dcgmi diag', 'all_reduce_perf', 'nvbandwidth', 'gpu_burn', gpuStateOutput.tool]);
    // A real 8-GPU XML (228 kB) kept whole, compressed within its share, for the vendor.
    const state = facts.outputs.at(-1)?.text ?? '';
    expect(state.length).toBeLessThan(gpuStateOutput.maxChars);
    expect(gunzipSync(Buffer.from(state, 'base64')).toString()).toBe(fixture('GuanceCloud__datakit__gtx-8card.xml'));
  });

  it('keeps each tool\'s output within its share, its start and its end: a report always fits the broker\'s payload limit', () => {
    const huge = (tool: string) => ({ text: `${tool} start\n${'x'.repeat(500_000)}\n${tool} end` });
    const facts = acceptanceFacts({ nvlink: huge('nvlink'), dcgm: huge('dcgm'), nccl: huge('nccl'), nvbandwidth: huge('nvbandwidth'), stress: { seconds: 1, burn: huge('gpu_burn'), samples: [huge('samples').text] }, gpuState: { error: `gpuState start\n${'x'.repeat(500_000)}\ngpuState end` } });
    for (const output of facts.outputs) {
      expect(output.text.length).toBeLessThan(keptOutputChars + 100);
      expect(output.text).toMatch(/^(failed: )?\S+ start\n/);
      expect(output.text).toMatch(/ end$/);
      expect(output.text).toContain('characters left out');
    }
    expect(facts.outputs).toHaveLength(7);
    expect(facts.outputs.reduce((sum, o) => sum + o.text.length, 0)).toBeLessThan(128 * 1024);
    // DCGM printing no JSON (an error page, a crash): a failed diagnostic that says so, not a suite that threw.
    expect(facts.dcgm).toEqual([{ test: 'dcgmi diag', gpuIds: [], status: 'fail', info: expect.stringMatching(/^its output is not DCGM's JSON: /), errorSeverity: null }]);
  });

  it('keeps the whole report within its bytes however the tools print: DCGM\'s messages shortened, the GPU state left out, outputs cut (review finding: 644 kB possible)', () => {
    const wide = (tool: string) => ({ text: `${tool} start\n${'€'.repeat(400_000)}\n${tool} end` }); // 3 bytes each in UTF-8
    const dcgm = JSON.stringify({ 'DCGM GPU Diagnostic': { test_categories: [{ category: 'Hardware', tests:
      Array.from({ length: 300 }, (_, i) => ({ name: `t${i}`, results: [{ gpu_ids: '1', status: 'Fail', info: 'é'.repeat(2000) }] })) }] } });
    const noise = Array.from({ length: 40_000 }, (_, i) => ((i * 2654435761) >>> 7).toString(36)).join('').slice(0, 20_000);
    const facts = acceptanceFacts({ nvlink: wide('nvlink'), dcgm: { text: dcgm }, nccl: wide('nccl'), nvbandwidth: wide('nvbandwidth'),
      stress: { seconds: 1, burn: wide('gpu_burn'), samples: [wide('samples').text] }, gpuState: { text: noise } });
    const bytes = (t: string) => Buffer.byteLength(t);
    const total = facts.outputs.reduce((n, o) => n + bytes(o.text) + bytes(o.tool), 0)
      + (facts.dcgm ?? []).reduce((n, t) => n + bytes(t.test) + bytes(t.info) + t.gpuIds.reduce((m, g) => m + bytes(g), 0), 0);
    expect(total).toBeLessThanOrEqual(acceptanceReportBytes);
    expect(facts.dcgm?.filter((t) => t.status === 'fail')).toHaveLength(acceptanceLimits.dcgmTests); // every verdict kept
    expect(facts.outputs.find((o) => o.tool === 'nvidia-smi -q -x')?.text).toBe(`left out: the report would pass its ${acceptanceReportBytes} bytes`);
    expect(facts.outputs.find((o) => o.tool === 'gpu_burn')?.text).toMatch(/^gpu_burn start\n[\s\S]*gpu_burn end$/);
    // A typical report is untouched.
    const typical = acceptanceFacts({ nvlink: { text: 'GPU 0: x' }, dcgm: null, nccl: null, nvbandwidth: null, stress: null, gpuState: { text: '<a/>' } });
    expect(typical.outputs.map((o) => o.tool)).toEqual(['nvidia-smi nvlink -s', gpuStateOutput.tool]);
  });

  it('keeps DCGM\'s results within what the manager takes: a status it does not know fails, saying which; long texts cut; at most 256 tests (review finding)', () => {
    const json = JSON.stringify({ 'DCGM GPU Diagnostic': { test_categories: [{ category: 'Hardware', tests: [
      { name: 'Memory', results: [{ gpu_ids: '0', status: 'Not Run', info: 'i'.repeat(5000) }] },
      ...Array.from({ length: 300 }, (_, i) => ({ name: `t${i}`, results: [{ gpu_ids: '1', status: 'Pass' }] })),
    ] }] } });
    const facts = acceptanceFacts({ nvlink: { text: '' }, dcgm: { text: json }, nccl: null, nvbandwidth: null, stress: null, gpuState: { error: 'not run' } });
    const first = facts.dcgm?.[0];
    expect(first).toMatchObject({ test: 'Memory', status: 'fail' });
    expect(first?.info).toMatch(/^DCGM status "not run": i+/);
    expect(first?.info.length).toBeLessThanOrEqual(acceptanceLimits.textChars);
    expect(facts.dcgm).toHaveLength(acceptanceLimits.dcgmTests);
    expect(facts.dcgm?.at(-1)).toMatchObject({ test: 'dcgmi diag', status: 'fail', info: '46 more results left out' });
  });

  it('takes no result from a run cut short, or with values out of bounds; a tool that failed says why', () => {
    const real = fixture('lessizzmore__create-a3mega-ztan-fork__ztan-NCCL-test-result.txt');
    const cut = real.split('\n').filter((l) => !l.startsWith('# Out of bounds')).join('\n');
    const outOfBounds = real.replace('# Out of bounds values : 0 OK', '# Out of bounds values : 12 FAILED');
    for (const text of [cut, outOfBounds]) expect(acceptanceFacts({ nvlink: { text: '' }, dcgm: null, nccl: { text }, nvbandwidth: null, stress: null, gpuState: { error: 'not run' } }).nccl).toBeNull();
    const failed = acceptanceFacts({ nvlink: { error: 'nvidia-smi: not found' }, dcgm: { error: 'dcgmi diag: exit 226' }, nccl: null, nvbandwidth: null, stress: null, gpuState: { error: 'not run' } });
    expect(failed.nvlinks).toBeNull();
    expect(failed.dcgm).toEqual([{ test: 'dcgmi diag', gpuIds: [], status: 'fail', info: 'dcgmi diag: exit 226', errorSeverity: null }]);
    expect(failed.outputs).toEqual([{ tool: 'nvidia-smi nvlink -s', text: 'failed: nvidia-smi: not found' }, { tool: 'dcgmi diag', text: 'failed: dcgmi diag: exit 226' },
      { tool: 'nvidia-smi -q -x', text: 'failed: not run' }]);
  });
});

describe('a simulated node\'s acceptance outputs', () => {
  const facts = async (faults: FaultKind[]) => acceptanceFacts(await createSimulatedBackend({ seed: 's', index: 1, faults: () => faults }).acceptanceOutputs({ dcgmLevel: 3, nccl: true, nvbandwidth: true, stressSeconds: 300 }));

  it('a healthy 8x H100: every link up, about 480 GB/s on 8 GPUs, no DCGM', async () => {
    const healthy = await facts([]);
    expect(healthy.nvlinks?.map((g) => g.links.filter((l) => l !== null).length)).toEqual(Array(8).fill(18));
    expect(healthy.nccl).toEqual({ busbwGBs: 480.3, sizeBytes: 8 * 1024 ** 3, wrongResults: 0, devices: 8, tool: 'all_reduce_perf' });
    expect(healthy.dcgm).toBeNull();
    expect(healthy.copies).toEqual({ hostToDevice: { gbs: 55.53, gpu: 7 }, peer: { gbs: 389.1, from: 1, to: 0 } });
  });

  it('a slow NVLink: two links of GPU 5 at half speed, the all-reduce at about 300 GB/s; a missing GPU: 7 of everything', async () => {
    const slow = await facts(['slow-nvlink']);
    expect(slow.nvlinks?.find((g) => g.gpuIndex === 5)?.links.slice(0, 3)).toEqual([13.281, 13.281, 26.562]);
    expect(slow.nccl?.busbwGBs).toBe(301.4);
    expect(slow.copies?.peer).toEqual({ gbs: 194.2, from: 5, to: 0 });
    const missing = await facts(['gpu-missing']);
    expect(missing.nvlinks?.map((g) => g.gpuIndex)).toEqual([0, 1, 2, 4, 5, 6, 7]);
    expect(missing.nccl?.devices).toBe(7);
  });

  it('under gpu_burn: every GPU OK at 60–66 °C with only the power cap; weak cooling: GPU 6 at 86 °C, slowed down by the driver', async () => {
    const healthy = await facts([]);
    expect(healthy.stress).toMatchObject({ tool: 'gpu_burn', seconds: 300, sampled: true });
    expect(healthy.stress?.gpus.every((g) => g.result === 'OK' && g.errors === 0 && g.peakTempC !== null && g.peakTempC <= 64 && g.clockEvents?.join() === 'sw_power_cap')).toBe(true);
    const hot = await facts(['weak-cooling']);
    expect(hot.stress?.gpus.find((g) => g.index === 6)).toEqual({ index: 6, result: 'OK', errors: 0, peakTempC: 86, clockEvents: ['sw_power_cap', 'sw_thermal_slowdown'] });
  });

  // Acceptance is on by default: the fleet `npm start` simulates must pass the default H100 profile as a real HGX H100
  // does (8 NICs at 400 Gb/s, 8 NVMe drives, ECC on), and each simulated fault must fail it by what it breaks.
  it.each<[FaultKind[], string]>([
    [[], ''],
    [['slow-nvlink'], 'nvlink: GPU 5: 2 at 13.281 GB/s of 26.562'],
    [['weak-cooling'], 'temperature'],
    [['old-vbios'], ''], // the defaults allow any VBIOS: an operator's profile lists the ones it allows
    [['gpu-missing'], 'gpu-count'],
  ])('a default simulated node with faults %j passes the default H100 profile unless a fault fails it (%s)', async (faults, failing) => {
    const node = createSimulatedBackend({ seed: 's', index: 1, faults: () => faults });
    const inventory = await node.inventory();
    const suite = acceptSuite(nodeSku(inventory.gpus, defaultSkuProfiles, faults.length === 0 ? null : 'hgx-h100-8'));
    const verdict = judgeAcceptance(defaultSkuProfiles, inventory, acceptanceFacts(await node.acceptanceOutputs(suite)), [], faults.length === 0 ? null : 'hgx-h100-8');
    expect(verdict.profile).toBe('hgx-h100-8');
    if (failing === '') expect(failingChecks(verdict.checks)).toBe('');
    else expect(failingChecks(verdict.checks)).toContain(failing);
    expect(verdict.passed).toBe(failing === '');
  });

  it('prints the GPUs\' state as nvidia-smi -q -x does, read back by the real parser as the node\'s health reads it', async () => {
    const node = createSimulatedBackend({ seed: 's', index: 1, faults: () => ['gpu-missing'] });
    const outputs = await node.acceptanceOutputs({ dcgmLevel: 0, nccl: false, nvbandwidth: false, stressSeconds: 0 });
    const report = parseNvidiaSmiXml('text' in outputs.gpuState ? outputs.gpuState.text : '');
    const inventory = await node.inventory();
    expect(report.gpus.map((g) => [g.serial, g.uuid, g.vbiosVersion, g.ecc.modeCurrent, g.pcie.widthCurrent])).toEqual(
      inventory.gpus.map((g) => [g.serial, g.uuid, g.vbiosVersion, 'Enabled', 16]));
    expect(report.gpus).toHaveLength(7);
    expect(report.driverVersion).toBe('570.124.06');
  });

  it('leaves out a GPU state too large to send whole, saying so (a cut XML is no evidence)', () => {
    // Random text does not compress: over the share once encoded.
    const noise = Array.from({ length: 40_000 }, (_, i) => ((i * 2654435761) >>> 7).toString(36)).join('');
    const facts = acceptanceFacts({ nvlink: { text: '' }, dcgm: null, nccl: null, nvbandwidth: null, stress: null, gpuState: { text: noise } });
    expect(facts.outputs.at(-1)).toEqual({ tool: 'nvidia-smi -q -x', text: expect.stringMatching(/^left out: \d+ characters of XML, \d+ compressed, over the 32768 kept$/) });
    const failed = acceptanceFacts({ nvlink: { text: '' }, dcgm: null, nccl: null, nvbandwidth: null, stress: null, gpuState: { error: 'nvidia-smi: not found' } });
    expect(failed.outputs.at(-1)).toEqual({ tool: 'nvidia-smi -q -x', text: 'failed: nvidia-smi: not found' });
  });

  it('prints no NCCL output when the suite does not ask for it', () => {
    expect(simulatedAcceptanceOutputs({ hostname: 'h', gpus: [], busbwGBs: 1, gpuStateXml: '' }, { dcgmLevel: 0, nccl: false, nvbandwidth: false, stressSeconds: 0 }).nccl).toBeNull();
  });
});

describe('the stress run on a node', () => {
  it('reads nvidia-smi while gpu_burn runs, falling back to the reasons\' older field name on a driver before 535', async () => {
    const calls: string[] = [];
    let finish: (text: string) => void = () => undefined;
    const run = async (command: string, args: readonly string[]): Promise<string> => {
      calls.push(`${command} ${args.join(' ')}`);
      if (command === 'gpu_burn') return new Promise((resolve) => (finish = resolve));
      if (args[0]?.includes('clocks_event_reasons')) throw new Error('Field "clocks_event_reasons.active" is not a valid field to query.');
      return '0, 71, 0x0000000000000004';
    };
    // A clock that moves 20 s at each sleep: gpu_burn ends after the third, 60 s in.
    let ticks = 0;
    let nowMs = 0;
    const sleep = async () => {
      ticks += 1;
      nowMs += 20_000;
      if (ticks === 3) finish('Tested 1 GPUs:\n\tGPU 0: OK\n');
    };
    const stress = await runStress(run, 60, sleep, () => nowMs);
    expect(calls[0]).toBe('gpu_burn 60');
    expect(calls.slice(1, 3)).toEqual(['nvidia-smi --query-gpu=index,temperature.gpu,clocks_event_reasons.active --format=csv,noheader,nounits',
      'nvidia-smi --query-gpu=index,temperature.gpu,clocks_throttle_reasons.active --format=csv,noheader,nounits']);
    expect(stress.samples.length).toBeGreaterThanOrEqual(2);
    expect(new Set(stress.samples)).toEqual(new Set(['0, 71, 0x0000000000000004']));
    expect(acceptanceFacts({ nvlink: { text: '' }, dcgm: null, nccl: null, nvbandwidth: null, stress, gpuState: { error: 'not run' } }).stress).toEqual({
      tool: 'gpu_burn', seconds: 60, sampled: true, gpus: [{ index: 0, result: 'OK', errors: 0, peakTempC: 71, clockEvents: ['sw_power_cap'] }],
    });
  });

  it('says how long gpu_burn really ran, and which GPU nvidia-smi never read (review findings: both passed before)', async () => {
    let finish: (text: string) => void = () => undefined;
    const run = async (command: string): Promise<string> => {
      if (command === 'gpu_burn') return new Promise((resolve) => (finish = resolve));
      return '0, 71, 0x0000000000000004';
    };
    let nowMs = 0;
    let ticks = 0;
    const sleep = async () => {
      nowMs += 10_000;
      // Asked for 300 s; it dies after 20, having read GPU 0 only.
      if ((ticks += 1) === 2) finish('Tested 2 GPUs:\n\tGPU 0: OK\n\tGPU 1: OK\n');
    };
    const stress = await runStress(run, 300, sleep, () => nowMs);
    const facts = acceptanceFacts({ nvlink: { text: '' }, dcgm: null, nccl: null, nvbandwidth: null, stress, gpuState: { error: 'not run' } }).stress;
    expect(facts?.seconds).toBe(20);
    expect(facts?.gpus.map((g) => g.clockEvents)).toEqual([['sw_power_cap'], null]);
    const checks = checkStress({ seconds: 300, maxTempSpreadC: 10 }, [0, 1], facts ?? null);
    expect(checks.filter((c) => c.verdict === 'fail').map((c) => `${c.name}: ${c.measured}`)).toEqual([
      'gpu-stress: ran 20 s', 'clock-throttle: GPU 1: not read under load', 'temperature-spread: 0 °C (GPU 0 71 °C to GPU 0 71 °C); 1 GPU(s) unread',
    ]);
  });
});
