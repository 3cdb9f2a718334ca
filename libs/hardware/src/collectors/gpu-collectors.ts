// NVIDIA GPUs: inventory and state from `nvidia-smi -q -x`, NVLink from
// `nvidia-smi nvlink -s`, DCGM when installed. Recorded outputs can stand in
// for the tools (offline diagnosis of a saved bug report).
import { readFile } from 'node:fs/promises';
import type { GpuReadout } from '@metalfleet/domain';
import type { HealthCollector, InventoryCollector } from '../collector.ts';
import { CommandError, commandExists, runCommand, type RunCommand } from '../command-runner.ts';
import { parseDcgmDiag, parseDcgmHealth } from '../parsers/dcgm.ts';
import { parseNvidiaSmiCsv, telemetryQueryFields } from '../parsers/nvidia-smi-csv.ts';
import { parseNvidiaSmiXml, type NvidiaSmiReport } from '../parsers/nvidia-smi-xml.ts';
import { parseNvlinkErrors, parseNvlinkStatus, type NvlinkErrorCounters } from '../parsers/nvlink.ts';
import { nvidiaGpusOnPciBus } from '../sysfs.ts';

export interface GpuSources {
  run: RunCommand;
  /** Paths of recorded outputs that replace running the tools. */
  nvidiaSmiXmlFile?: string | undefined;
  nvidiaSmiCsvFile?: string | undefined;
  nvidiaSmiTimeoutMs: number;
}

export function gpuSources(partial: Partial<GpuSources> = {}): GpuSources {
  return { run: runCommand, nvidiaSmiTimeoutMs: 30_000, ...partial };
}

function recorded(sources: GpuSources): boolean {
  return Boolean(sources.nvidiaSmiXmlFile || sources.nvidiaSmiCsvFile);
}

/** GPUs are expected here: NVIDIA devices on the PCI bus, nvidia-smi installed, or recorded output given. */
async function hasGpus(sources: GpuSources): Promise<boolean> {
  return recorded(sources) || nvidiaGpusOnPciBus() > 0 || commandExists('nvidia-smi');
}

async function readReport(sources: GpuSources): Promise<NvidiaSmiReport> {
  if (sources.nvidiaSmiXmlFile) return parseNvidiaSmiXml(await readFile(sources.nvidiaSmiXmlFile, 'utf8'));
  if (sources.nvidiaSmiCsvFile) {
    const gpus = parseNvidiaSmiCsv(await readFile(sources.nvidiaSmiCsvFile, 'utf8'));
    return { driverVersion: gpus[0]?.driverVersion ?? '', cudaVersion: '', attachedGpus: gpus.length, gpus, deviceMaxPcieGen: gpus.map((g) => g.pcie.genMax) };
  }
  return parseNvidiaSmiXml(await sources.run('nvidia-smi', ['-q', '-x'], { timeoutMs: sources.nvidiaSmiTimeoutMs }));
}

export function gpuInventoryCollector(sources: GpuSources): InventoryCollector {
  return {
    name: 'gpus',
    probe: () => hasGpus(sources),
    async collect() {
      const report = await readReport(sources);
      return {
        gpus: report.gpus.map((g, i) => ({
          index: g.index, model: g.model, uuid: g.uuid, serial: g.serial, vbiosVersion: g.vbiosVersion, driverVersion: g.driverVersion,
          cudaVersion: g.cudaVersion, pciBusId: g.pciBusId, memoryBytes: (g.memoryTotalMiB ?? 0) * 1024 * 1024,
          pcieMaxGen: report.deviceMaxPcieGen[i] ?? 0, pcieMaxWidth: g.pcie.widthMax ?? 0,
          pcieLinkMaxGen: g.pcie.genMax ?? 0, pcieCurrentWidth: g.pcie.widthCurrent ?? 0, migMode: g.migCurrent ?? '',
          powerLimitW: g.power.limitW ?? 0, defaultPowerLimitW: g.power.defaultLimitW ?? 0, eccMode: g.ecc.modeCurrent ?? '',
        })),
      };
    },
  };
}

/** GPU state for health. A hang or an nvidia-smi error is itself the finding, not a collector failure. */
export function gpuHealthCollector(sources: GpuSources): HealthCollector {
  return {
    name: 'nvidia-smi',
    probe: () => hasGpus(sources),
    async collect() {
      let gpus: GpuReadout;
      try {
        gpus = { ok: true, gpus: (await readReport(sources)).gpus };
      } catch (error) {
        if (!(error instanceof CommandError) || error.kind === 'missing') throw error;
        gpus = { ok: false, failure: error.kind === 'timeout' ? 'timeout' : 'error', detail: error.message };
      }
      return { gpus };
    },
  };
}

/** Link states (`nvlink -s`) and error counters (`nvlink -e`), the latter as growth since the agent's first sample. */
export function nvlinkCollector(sources: GpuSources): HealthCollector {
  let baseline: NvlinkErrorCounters[] | null = null;
  return {
    name: 'nvlink',
    probe: async () => !recorded(sources) && (await hasGpus(sources)),
    async collect() {
      const nvlinks = parseNvlinkStatus(await sources.run('nvidia-smi', ['nvlink', '-s'], { timeoutMs: sources.nvidiaSmiTimeoutMs }));
      const counters = parseNvlinkErrors(await sources.run('nvidia-smi', ['nvlink', '-e'], { timeoutMs: sources.nvidiaSmiTimeoutMs }));
      baseline ??= counters;
      const nvlinkErrors = counters.flatMap((gpu) => gpu.links.map((link, i) => {
        const base = baseline?.find((b) => b.uuid === gpu.uuid)?.links[i] ?? { replay: 0, recovery: 0, crc: 0 };
        return { gpuIndex: gpu.gpuIndex, link: i, replay: link.replay - base.replay, recovery: link.recovery - base.recovery, crc: link.crc - base.crc };
      })).filter((g) => g.replay > 0 || g.recovery > 0 || g.crc > 0);
      return { nvlinks, nvlinkErrors };
    },
  };
}

/** DCGM is optional: used when `dcgmi` is installed. The quick diag (-r 1) runs at most every diagIntervalMs. */
export function dcgmCollector(sources: GpuSources, diagIntervalMs: number): HealthCollector {
  let lastDiag = -Infinity;
  let diag: ReturnType<typeof parseDcgmDiag> | undefined;
  return {
    name: 'dcgm',
    probe: async () => !recorded(sources) && commandExists('dcgmi'),
    async collect() {
      const health = parseDcgmHealth(await sources.run('dcgmi', ['health', '-c', '-j'], { timeoutMs: 30_000 }));
      if (performance.now() - lastDiag > diagIntervalMs) {
        lastDiag = performance.now();
        diag = parseDcgmDiag(await sources.run('dcgmi', ['diag', '-r', '1', '-j'], { timeoutMs: 120_000, acceptExitCode: () => true }));
      }
      return { dcgmHealth: health.findings, ...(diag ? { dcgmDiag: diag } : {}) };
    },
  };
}

/** Per-GPU telemetry through the CSV query (much cheaper than the XML). */
export async function readGpuTelemetry(sources: GpuSources) {
  const csv = await sources.run('nvidia-smi', [`--query-gpu=${telemetryQueryFields.join(',')}`, '--format=csv,noheader,nounits'], { timeoutMs: sources.nvidiaSmiTimeoutMs });
  return parseNvidiaSmiCsv(csv, telemetryQueryFields);
}
