// What `nvidia-smi -q -x` prints for a simulated node's GPUs: the elements of
// the real schema (v12) that the parser reads and a vendor looks at, built
// from the same snapshots the node's health is read from, so the XML in its
// evidence says what its health said.
import { XMLBuilder } from 'fast-xml-parser';
import type { GpuSnapshot } from '@metalfleet/domain';

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', format: true, indentBy: '\t', suppressEmptyNode: false });

const orNa = (value: number | string | null, unit = '') => (value === null ? 'N/A' : `${value}${unit}`);
const yesNo = (value: boolean | null) => (value === null ? 'N/A' : value ? 'Yes' : 'No');
const active = (reasons: string[] | null, reason: string) => (reasons?.includes(reason) ? 'Active' : 'Not Active');

function gpuElement(s: GpuSnapshot): Record<string, unknown> {
  return {
    '@_id': s.pciBusId,
    product_name: s.model,
    mig_mode: { current_mig: orNa(s.migCurrent), pending_mig: orNa(s.migPending) },
    serial: s.serial,
    uuid: s.uuid,
    vbios_version: s.vbiosVersion,
    pci: {
      pci_bus_id: s.pciBusId,
      pci_gpu_link_info: {
        pcie_gen: { max_link_gen: orNa(s.pcie.genMax), current_link_gen: orNa(s.pcie.genCurrent) },
        link_widths: { max_link_width: orNa(s.pcie.widthMax, 'x'), current_link_width: orNa(s.pcie.widthCurrent, 'x') },
      },
      replay_counter: orNa(s.pcie.replayCounter),
    },
    performance_state: orNa(s.performanceState),
    clocks_event_reasons: Object.fromEntries(
      ['gpu_idle', 'sw_power_cap', 'hw_slowdown', 'hw_thermal_slowdown', 'hw_power_brake_slowdown', 'sw_thermal_slowdown']
        .map((r) => [`clocks_event_reason_${r}`, active(s.clockEventsActive, r)]),
    ),
    fb_memory_usage: { total: orNa(s.memoryTotalMiB, ' MiB'), used: orNa(s.memoryUsedMiB, ' MiB') },
    utilization: { gpu_util: orNa(s.utilizationGpuPercent, ' %') },
    ecc_mode: { current_ecc: orNa(s.ecc.modeCurrent), pending_ecc: orNa(s.ecc.modePending) },
    ecc_errors: {
      volatile: { dram_correctable: orNa(s.ecc.volatileCorrected), dram_uncorrectable: orNa(s.ecc.volatileUncorrected) },
      aggregate: { dram_correctable: orNa(s.ecc.aggregateCorrected), dram_uncorrectable: orNa(s.ecc.aggregateUncorrected) },
    },
    remapped_rows: {
      remapped_row_corr: orNa(s.rowRemap.correctable), remapped_row_unc: orNa(s.rowRemap.uncorrectable),
      remapped_row_pending: yesNo(s.rowRemap.pending), remapped_row_failure: yesNo(s.rowRemap.failure),
    },
    temperature: {
      gpu_temp: orNa(s.temperature.gpuC, ' C'), gpu_temp_max_threshold: orNa(s.temperature.shutdownC, ' C'),
      gpu_temp_slow_threshold: orNa(s.temperature.slowdownC, ' C'), memory_temp: orNa(s.temperature.memoryC, ' C'),
    },
    gpu_power_readings: { power_draw: orNa(s.power.drawW, ' W'), current_power_limit: orNa(s.power.limitW, ' W'), default_power_limit: orNa(s.power.defaultLimitW, ' W') },
    fabric: { state: orNa(s.fabric.state), status: orNa(s.fabric.status) },
  };
}

export function simulatedNvidiaSmiXml(gpus: readonly GpuSnapshot[], at: Date): string {
  const first = gpus[0];
  const log = {
    nvidia_smi_log: {
      timestamp: at.toUTCString(),
      driver_version: first?.driverVersion ?? 'N/A',
      cuda_version: first?.cudaVersion ?? 'N/A',
      attached_gpus: gpus.length,
      gpu: gpus.map(gpuElement),
    },
  };
  return `<?xml version="1.0" ?>\n<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">\n${String(builder.build(log))}`;
}
