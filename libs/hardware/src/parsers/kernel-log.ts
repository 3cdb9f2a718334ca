// Kernel log lines (`/dev/kmsg`, `dmesg`, `dmesg -T`, `dmesg --decode --time-format=iso`,
// `journalctl -k`) → GPU/NVSwitch events. Stateful, because the fallen-off-bus
// message without an Xid spans several lines. Feed it line by line (live) or
// a whole log at once (offline).
import type { KernelEvent } from '@metalfleet/domain';

const xidLine = /NVRM: Xid \((?:PCI:)?([0-9a-fA-F]+(?::[0-9a-fA-F]+){1,2}(?:\.[0-7])?)\):?\s*(\d+)\b,?\s*(.*)$/;
const sxidLine = /SXid \((?:PCI:)?([0-9a-fA-F:.]+)\):?\s*(\d+)\b,?\s*(.*)$/;
const fallenSingle = /NVRM: GPU ([0-9a-fA-F]+:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}(?:\.[0-7])?): GPU has fallen off the bus/;
const fallenStart = /NVRM: The NVIDIA GPU ([0-9a-fA-F]+:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}(?:\.[0-7])?)\s*$/;
const gpuIdentity = /NVRM: GPU at PCI:([0-9a-fA-F:]+): (GPU-[0-9a-fA-F-]+)/;
const pcieLimited = /pci ([0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]): .*available PCIe bandwidth, limited by/;

/** `0000:9B:00.0`, `PCI:0000:9b:00`, `0000:9b:00` → `0000:9b:00`. */
export function normalizePci(raw: string): string {
  const parts = raw.replace(/^PCI:/i, '').replace(/\.[0-7]$/, '').toLowerCase().split(':');
  if (parts.length === 2) parts.unshift('0000');
  const [domain = '0000', bus = '00', device = '00'] = parts;
  return `${domain.slice(-4).padStart(4, '0')}:${bus.padStart(2, '0')}:${device.padStart(2, '0')}`;
}

export class KernelLogParser {
  private pendingFallen: { pci: string; linesLeft: number } | null = null;
  private readonly xid79Seen = new Set<string>();

  push(rawLine: string): KernelEvent[] {
    const line = rawLine.trimEnd();
    const events: KernelEvent[] = [];

    const xid = xidLine.exec(line);
    if (xid?.[1] && xid[2]) {
      const pci = normalizePci(xid[1]);
      const code = Number(xid[2]);
      const text = (xid[3] ?? '').trim();
      const root = /caused by previous Xid (\d+)/.exec(text);
      if (code === 79) this.xid79Seen.add(pci);
      events.push({ kind: 'xid', pci, xid: code, text, rootXid: root?.[1] ? Number(root[1]) : null, line });
      return events;
    }
    const sxid = sxidLine.exec(line);
    if (sxid?.[1] && sxid[2]) {
      const rest = sxid[3] ?? '';
      // "Severity …" and "Data {…}" lines detail the Fatal/Non-fatal line before them.
      const fatal = /^Fatal\b/i.test(rest) ? true : /^Non-?fatal\b/i.test(rest) ? false : null;
      if (fatal !== null) events.push({ kind: 'sxid', pci: normalizePci(sxid[1]), sxid: Number(sxid[2]), fatal, text: rest.trim(), line });
      return events;
    }
    const single = fallenSingle.exec(line);
    if (single?.[1]) {
      const pci = normalizePci(single[1]);
      if (!this.xid79Seen.has(pci)) events.push({ kind: 'fallen-off-bus', pci, text: 'GPU has fallen off the bus (no Xid line)', line });
      this.xid79Seen.add(pci);
      return events;
    }
    const start = fallenStart.exec(line);
    if (start?.[1]) {
      this.pendingFallen = { pci: normalizePci(start[1]), linesLeft: 3 };
      return events;
    }
    if (this.pendingFallen) {
      if (/fallen off the bus/.test(line)) {
        const { pci } = this.pendingFallen;
        if (!this.xid79Seen.has(pci)) events.push({ kind: 'fallen-off-bus', pci, text: 'GPU has fallen off the bus and is not responding (no Xid line)', line });
        this.xid79Seen.add(pci);
        this.pendingFallen = null;
        return events;
      }
      this.pendingFallen.linesLeft -= 1;
      if (this.pendingFallen.linesLeft <= 0) this.pendingFallen = null;
    }
    const identity = gpuIdentity.exec(line);
    if (identity?.[1] && identity[2]) {
      events.push({ kind: 'gpu-identity', pci: normalizePci(identity[1]), uuid: identity[2] });
      return events;
    }
    const limited = pcieLimited.exec(line);
    if (limited?.[1]) events.push({ kind: 'pcie-limited', pci: normalizePci(limited[1]), text: line.slice(line.indexOf('pci ')), line });
    return events;
  }
}

export function parseKernelLog(log: string): KernelEvent[] {
  const parser = new KernelLogParser();
  return log.split(/\r?\n/).flatMap((line) => parser.push(line));
}
