// nvidia-fabricmanager log lines reporting NVSwitch errors → kernel-style events.
import type { KernelEvent } from '@metalfleet/domain';
import { normalizePci } from './kernel-log.ts';

const switchError = /detected NVSwitch (non-fatal|fatal) error (\d+) .*?NVSwitch pci bus id ([0-9a-fA-F:.]+)(.*)$/i;

export function parseFabricManagerLog(log: string): KernelEvent[] {
  const events: KernelEvent[] = [];
  for (const line of log.split(/\r?\n/)) {
    const m = switchError.exec(line);
    if (m?.[1] && m[2] && m[3]) {
      events.push({ kind: 'sxid', pci: normalizePci(m[3]), sxid: Number(m[2]), fatal: m[1].toLowerCase() === 'fatal', text: line.slice(line.indexOf('detected')).trim() });
    }
  }
  return events;
}
