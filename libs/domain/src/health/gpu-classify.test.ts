import { describe, expect, it } from 'vitest';
import { classifyGpus, classifyNvidiaSmiFailure, type GpuExpectations } from './gpu-classify.ts';
import { emptyGpuSnapshot, type GpuSnapshot } from './gpu-snapshot.ts';

type Patch = (g: GpuSnapshot) => void;
function gpu(patch: Patch): GpuSnapshot {
  const g = emptyGpuSnapshot(0);
  g.pciBusId = '00000000:19:00.0';
  g.uuid = 'GPU-1';
  patch(g);
  return g;
}
const bare: GpuExpectations = { expectedGpuCount: null, virtualMachine: false };
const codes = (gs: GpuSnapshot[], expect = bare) => classifyGpus(gs, expect).map((f) => `${f.code} ${f.severity} ${f.remediation}`);

describe('classifyGpus', () => {
  const cases: Array<[string, Patch, string[]]> = [
    ['a GPU with nothing reported is healthy (unknown is not failing)', () => {}, []],
    ['volatile uncorrectable ECC', (g) => { g.ecc.volatileUncorrected = 2; }, ['ecc-volatile-uncorrectable critical reset-gpu']],
    ['volatile UE with a row-remap failure: replace', (g) => { g.ecc.volatileUncorrected = 1; g.rowRemap.failure = true; }, ['ecc-volatile-uncorrectable critical replace', 'row-remap-failure critical replace']],
    ['row remap pending', (g) => { g.rowRemap.pending = true; }, ['row-remap-pending warning reset-gpu']],
    ['recovery action Reboot', (g) => { g.recoveryAction = 'Reboot'; }, ['recovery-action critical reboot']],
    ['recovery action None', (g) => { g.recoveryAction = 'None'; }, []],
    ['535-era reset required', (g) => { g.resetRequired = true; }, ['recovery-action critical reset-gpu']],
    ['SRAM threshold exceeded', (g) => { g.ecc.sramThresholdExceeded = true; }, ['sram-threshold-exceeded critical replace']],
    ['retired pages pending (Volta)', (g) => { g.retiredPages.pending = true; }, ['retired-pages-pending warning reboot']],
    ['too many retired pages', (g) => { g.retiredPages.singleBit = 40; g.retiredPages.doubleBit = 21; }, ['retired-pages-high critical replace']],
    ['above the slowdown threshold', (g) => { g.temperature.gpuC = 90; g.temperature.slowdownC = 89; g.temperature.shutdownC = 92; }, ['temperature-high warning none']],
    ['at the shutdown threshold', (g) => { g.temperature.gpuC = 92; g.temperature.slowdownC = 89; g.temperature.shutdownC = 92; }, ['temperature-critical critical none']],
    ['T.Limit headroom 3 C (Hopper)', (g) => { g.temperature.tlimitC = 3; }, ['temperature-high warning none']],
    ['past the slowdown threshold and past T.Limit: the worse one', (g) => { g.temperature.gpuC = 90; g.temperature.slowdownC = 89; g.temperature.shutdownC = 92; g.temperature.tlimitC = -1; }, ['temperature-critical critical none']],
    ['95 C and no threshold reported (CSV, unknown model)', (g) => { g.temperature.gpuC = 95; }, ['temperature-critical critical none']],
    ['88 C and no threshold reported: the generic slowdown (87 C)', (g) => { g.temperature.gpuC = 88; }, ['temperature-high warning none']],
    ['88 C on an A100 SXM4 without thresholds: below its own 89 C', (g) => { g.model = 'NVIDIA A100-SXM4-80GB'; g.temperature.gpuC = 88; }, []],
    ['HBM at 96 C on an A100 SXM4 without thresholds', (g) => { g.model = 'NVIDIA A100-SXM4-80GB'; g.temperature.memoryC = 96; }, ['memory-temperature-high warning none']],
    ['SW thermal slowdown active', (g) => { g.clockEventsActive = ['sw_thermal_slowdown']; }, ['thermal-slowdown warning none']],
    ['HW thermal slowdown active', (g) => { g.clockEventsActive = ['hw_slowdown', 'hw_thermal_slowdown']; }, ['thermal-slowdown warning none']],
    ['power brake', (g) => { g.clockEventsActive = ['hw_slowdown', 'hw_power_brake_slowdown']; }, ['power-brake-slowdown warning none']],
    ['SW power cap alone is normal', (g) => { g.clockEventsActive = ['sw_power_cap']; }, []],
    ['PCIe x8 of x16 on bare metal', (g) => { g.pcie.widthCurrent = 8; g.pcie.widthMax = 16; }, ['pcie-width-degraded warning replace']],
    ['Gen1 at idle is normal', (g) => { g.pcie.genCurrent = 1; g.pcie.genMax = 5; g.performanceState = 'P8'; }, []],
    ['Gen4 of Gen5 under load', (g) => { g.pcie.genCurrent = 4; g.pcie.genMax = 5; g.performanceState = 'P0'; g.utilizationGpuPercent = 98; }, ['pcie-gen-degraded warning none']],
    ['fabric stuck In Progress', (g) => { g.fabric.state = 'In Progress'; }, ['fabric-not-ready critical reboot']],
    ['MIG change pending', (g) => { g.migCurrent = 'Disabled'; g.migPending = 'Enabled'; }, ['mig-mode-pending warning reset-gpu']],
  ];
  it.each(cases)('%s', (_name, patch, expected) => {
    expect(codes([gpu(patch)])).toEqual(expected);
  });

  it('judges PCIe replays as a rate against the previous sample', () => {
    const before = gpu((g) => { g.pcie.replayCounter = 100; g.pcie.genCurrent = 5; g.pcie.widthCurrent = 16; });
    const slow = gpu((g) => { g.pcie.replayCounter = 110; g.pcie.genCurrent = 5; g.pcie.widthCurrent = 16; });
    const fast = gpu((g) => { g.pcie.replayCounter = 200; g.pcie.genCurrent = 5; g.pcie.widthCurrent = 16; });
    expect(classifyGpus([slow], bare, { snapshots: [before], elapsedSeconds: 60 })).toEqual([]);
    expect(classifyGpus([fast], bare, { snapshots: [before], elapsedSeconds: 60 }).map((f) => f.code)).toEqual(['pcie-replay-rate']);
  });

  it('flags a slowdown between samples by its counter, though no reason is active at either', () => {
    const at = (hwThermal: number, powerBrake: number, swPowerCap: number) => gpu((g) => {
      g.clockEventsActive = [];
      g.clockEventCounters = { hw_thermal_slowdown: hwThermal, hw_power_brake_slowdown: powerBrake, sw_power_cap: swPowerCap };
    });
    const before = at(1_000_000, 0, 0);
    const findings = (now: GpuSnapshot) => classifyGpus([now], bare, { snapshots: [before], elapsedSeconds: 60 }).map((f) => `${f.code}: ${f.message}`);
    expect(findings(at(1_000_000, 0, 50_000_000))).toEqual([]); // power capping is normal
    expect(findings(at(4_500_000, 0, 0))).toEqual(['thermal-slowdown: hardware thermal slowdown for 3.5 s since the last sample: check cooling']);
    expect(findings(at(1_000_000, 250_000, 0))).toEqual(['power-brake-slowdown: hardware power brake for 0.3 s since the last sample: check the PSU / power supply']);
    expect(findings(at(0, 0, 0))).toEqual([]); // counters restart with the driver
  });

  it('flags fewer GPUs than expected on the node', () => {
    expect(codes([gpu(() => {})], { expectedGpuCount: 8, virtualMachine: false })).toEqual(['gpu-missing critical reboot']);
  });

  it('turns nvidia-smi failures into findings', () => {
    expect(classifyNvidiaSmiFailure('timeout', 'after 20 s')).toMatchObject({ code: 'nvidia-smi-unresponsive', remediation: 'reboot' });
    expect(classifyNvidiaSmiFailure('error', 'Unable to determine the device handle for GPU0000:9B:00.0: Unknown Error')).toMatchObject({ code: 'nvidia-smi-gpu-error', remediation: 'reset-gpu' });
    expect(classifyNvidiaSmiFailure('error', 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver')).toMatchObject({ code: 'nvidia-smi-failed', severity: 'warning' });
  });
});
