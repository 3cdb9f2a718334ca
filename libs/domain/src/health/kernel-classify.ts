// Kernel log events to findings: bursts collapse into one finding per (GPU,
// code); "caused by previous Xid N" is followed to its root; companions refine
// Xid 48; Xid 154 says exactly what the driver wants; NVLink5 lines carry their
// own Fatal/Nonfatal word. Application-level Xids age out; hardware ones stay
// for the rest of the boot.
import { finding, type ConditionFinding, type Remediation, type Severity } from './health-condition.ts';
import type { SeenKernelEvent } from './kernel-events.ts';
import { xidInfo } from './xid-catalog.ts';

const appXidWindowMs = 60 * 60 * 1000;

interface Group {
  component: string;
  code: string;
  xid: number | null;
  count: number;
  last: SeenKernelEvent;
  texts: string[];
  /** The first few raw lines, for the vendor's evidence. */
  lines: string[];
}

function recoveryFromText(text: string): Remediation | null {
  const m = /to 0x[0-9a-f]+ \(([^)]+)\)/i.exec(text);
  if (!m?.[1]) return null;
  const action = m[1].toLowerCase();
  if (action === 'none') return 'none';
  if (action.includes('reboot')) return 'reboot';
  return 'reset-gpu';
}

function nvlink5Fatal(text: string): boolean | null {
  if (/\bNonfatal\b/i.test(text)) return false;
  if (/\bFatal\b/.test(text)) return true;
  return null;
}

export function classifyKernelEvents(events: readonly SeenKernelEvent[], now: Date): ConditionFinding[] {
  const groups = new Map<string, Group>();
  const add = (component: string, code: string, xid: number | null, seen: SeenKernelEvent, text: string) => {
    const key = `${component}|${code}`;
    const line = 'line' in seen.event ? seen.event.line : undefined;
    const g = groups.get(key);
    if (g) {
      g.count += 1;
      g.last = seen;
      if (g.texts.length < 3 && !g.texts.includes(text)) g.texts.push(text);
      if (line && g.lines.length < 3 && !g.lines.includes(line)) g.lines.push(line);
    } else groups.set(key, { component, code, xid, count: 1, last: seen, texts: [text], lines: line ? [line] : [] });
  };

  for (const seen of events) {
    const e = seen.event;
    if (e.kind === 'xid') {
      // Xid 45 with a named cause is a symptom: classify the root cause.
      const xid = e.xid === 45 && e.rootXid !== null ? e.rootXid : e.xid;
      add(`gpu:${e.pci}`, `xid-${xid}`, xid, seen, xid !== e.xid ? `(reported as Xid 45) ${e.text}` : e.text);
    } else if (e.kind === 'fallen-off-bus') {
      add(`gpu:${e.pci}`, 'xid-79', 79, seen, e.text);
    } else if (e.kind === 'sxid') {
      add(`nvswitch:${e.pci}`, `sxid-${e.sxid}${e.fatal ? '-fatal' : ''}`, null, seen, e.text);
    } else if (e.kind === 'pcie-limited') {
      add(`pci:${e.pci}`, 'pcie-bandwidth-limited', null, seen, e.text);
    }
  }

  const xidsOn = (component: string) => new Set([...groups.values()].filter((g) => g.component === component && g.xid !== null).map((g) => g.xid));
  const out: ConditionFinding[] = [];
  for (const g of groups.values()) {
    const times = g.count > 1 ? ` (${g.count} times)` : '';
    const sample = g.texts[0] ?? '';
    if (g.xid === null) {
      if (g.code === 'pcie-bandwidth-limited') out.push(finding(g.component, g.code, 'warning', 'none', sample));
      else {
        const fatal = g.code.endsWith('-fatal');
        out.push(finding(g.component, g.code, fatal ? 'critical' : 'warning', fatal ? 'reboot' : 'none', `NVSwitch ${g.code.toUpperCase()}${times}: ${sample}`));
      }
      continue;
    }
    const info = xidInfo(g.xid);
    let severity: Severity = info.severity;
    let remediation: Remediation = info.remediation;
    let note = '';
    if (g.xid === 154) {
      const wanted = recoveryFromText(g.texts.join(' '));
      if (wanted === 'none') { severity = 'ok'; remediation = 'none'; } else if (wanted) remediation = wanted;
    } else if (g.xid >= 144 && g.xid <= 150) {
      const fatal = g.texts.some((t) => nvlink5Fatal(t) === true);
      if (!fatal && g.texts.every((t) => nvlink5Fatal(t) === false)) { severity = 'warning'; remediation = 'none'; note = ' (non-fatal: monitor)'; }
    } else if (g.xid === 48) {
      const companions = xidsOn(g.component);
      if (companions.has(64)) { remediation = 'replace'; note = ' with a row-remap failure (Xid 64)'; }
      else if (companions.has(94)) { severity = 'warning'; remediation = 'none'; note = ' contained (Xid 94): only the application was affected'; }
    }
    if (severity === 'ok' && now.getTime() - g.last.seenAt.getTime() > appXidWindowMs) continue;
    out.push(finding(g.component, g.code, severity, remediation, `Xid ${g.xid}: ${info.name}${note}${times}: ${sample}`));
  }
  // Each with the raw lines that raised it: what a vendor asks for, beside the message.
  return out.map((f) => {
    const lines = groups.get(`${f.component}|${f.code}`)?.lines ?? [];
    return lines.length > 0 ? { ...f, evidence: lines.map((l) => l.slice(0, 1024)) } : f;
  });
}
