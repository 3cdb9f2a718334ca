import { describe, expect, it } from 'vitest';
import { inMaintenanceWindow, parseMaintenanceWindows } from './maintenance-window.ts';

const windows = (text: string) => {
  const parsed = parseMaintenanceWindows(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.windows;
};

describe('maintenance windows', () => {
  it.each([
    { text: '', at: '12:00', open: true },
    { text: '02:00-06:00', at: '02:00', open: true },
    { text: '02:00-06:00', at: '05:59', open: true },
    { text: '02:00-06:00', at: '06:00', open: false },
    { text: '22:00-04:00', at: '23:30', open: true },
    { text: '22:00-04:00', at: '03:00', open: true },
    { text: '22:00-04:00', at: '12:00', open: false },
    { text: '01:00-02:00, 13:00-14:00', at: '13:15', open: true },
  ])('$text at $at UTC → $open', ({ text, at, open }) => {
    expect(inMaintenanceWindow(windows(text), new Date(`2026-11-21T${at}:00Z`))).toBe(open);
  });

  it.each(['2-6', '02:00', '25:00-01:00', '02:00-02:00', '01:00-02:00-03:00'])('refuses %j with a clear error', (text) => {
    expect(parseMaintenanceWindows(text)).toEqual({ ok: false, error: expect.stringContaining('is not HH:MM-HH:MM') });
  });
});
