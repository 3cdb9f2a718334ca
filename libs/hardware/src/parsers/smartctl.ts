// `smartctl --json -a <device>` → disk health (ATA and NVMe).
import type { DiskHealth } from '@metalfleet/domain';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function parseSmartctlJson(text: string, fallbackDevice = ''): DiskHealth {
  const doc = obj(JSON.parse(text));
  const device = obj(doc['device']);
  const nvme = obj(doc['nvme_smart_health_information_log']);
  const attributes = Array.isArray(obj(doc['ata_smart_attributes'])['table']) ? (obj(doc['ata_smart_attributes'])['table'] as unknown[]).map(obj) : [];
  const rawOf = (id: number) => num(obj(attributes.find((a) => a['id'] === id)?.['raw'])['value']);
  const status = obj(doc['smart_status'])['passed'];
  return {
    device: String(device['name'] ?? fallbackDevice),
    model: String(doc['model_name'] ?? ''),
    serial: String(doc['serial_number'] ?? ''),
    smartPassed: typeof status === 'boolean' ? status : null,
    nvmeCriticalWarning: num(nvme['critical_warning']),
    percentageUsed: num(nvme['percentage_used']),
    mediaErrors: num(nvme['media_errors']),
    reallocatedSectors: rawOf(5),
    pendingSectors: rawOf(197),
  };
}
