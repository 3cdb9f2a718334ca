// Plain aligned columns for humans; --json is for scripts.
// A cell is one line: a newline or tab in it (a node's host name, a message) is spelled out, so it cannot add a row of its own
// or shift the columns (the rest of the control characters are spelled out for everything printed: terminal-text.ts).
const oneLine = (cell: string) => cell.replace(/\n/g, '\\n').replace(/\t/g, '\\t');

export function formatTable(headers: readonly string[], raw: readonly (readonly string[])[]): string {
  const rows = raw.map((r) => r.map(oneLine));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
