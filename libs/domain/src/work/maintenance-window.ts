// Maintenance windows: daily UTC time ranges in which planned (non-urgent)
// work may take nodes down. A window may wrap midnight ("22:00-04:00").

export interface MaintenanceWindow {
  /** Minutes after 00:00 UTC. */
  startMinute: number;
  endMinute: number;
}

const clock = /^([01]\d|2[0-3]):([0-5]\d)$/;

function minutes(text: string): number | null {
  const m = clock.exec(text.trim());
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

/** Parses "HH:MM-HH:MM,HH:MM-HH:MM"; an empty text means no windows (always allowed). */
export function parseMaintenanceWindows(text: string): { ok: true; windows: MaintenanceWindow[] } | { ok: false; error: string } {
  const windows: MaintenanceWindow[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const [from, to, extra] = part.split('-');
    const startMinute = from === undefined ? null : minutes(from);
    const endMinute = to === undefined ? null : minutes(to);
    if (startMinute === null || endMinute === null || extra !== undefined || startMinute === endMinute) {
      return { ok: false, error: `maintenance window ${JSON.stringify(part)} is not HH:MM-HH:MM (UTC, start and end differ)` };
    }
    windows.push({ startMinute, endMinute });
  }
  return { ok: true, windows };
}

/** True when planned work may run at `at`: no windows configured, or `at` falls in one. */
export function inMaintenanceWindow(windows: readonly MaintenanceWindow[], at: Date): boolean {
  if (windows.length === 0) return true;
  const minute = at.getUTCHours() * 60 + at.getUTCMinutes();
  return windows.some((w) => (w.startMinute < w.endMinute
    ? minute >= w.startMinute && minute < w.endMinute
    : minute >= w.startMinute || minute < w.endMinute));
}
