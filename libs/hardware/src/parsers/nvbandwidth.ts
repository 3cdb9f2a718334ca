// nvbandwidth (github.com/NVIDIA/nvbandwidth) → each test's bandwidth matrix:
// "Running <test>." then a title line ("memcpy CE CPU(row) -> GPU(column)
// bandwidth (GB/s)"), the column indexes, and one row per source; "N/A" where
// a pair is not measured (a GPU with itself).

export interface NvbandwidthMatrix {
  test: string;
  columns: number[];
  /** Per row (its index): a value per column, null for N/A. */
  rows: Array<{ index: number; values: Array<number | null> }>;
}

export class NvbandwidthParseError extends Error {}

export function parseNvbandwidth(text: string): NvbandwidthMatrix[] {
  const matrices: NvbandwidthMatrix[] = [];
  let current: NvbandwidthMatrix | null = null;
  let expectColumns = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const running = /^Running (\S+)\.$/.exec(line);
    if (running?.[1]) {
      current = { test: running[1], columns: [], rows: [] };
      matrices.push(current);
      expectColumns = false;
      continue;
    }
    if (!current || line === '') continue;
    if (/bandwidth \(GB\/s\)$/.test(line)) {
      expectColumns = true;
      continue;
    }
    const fields = line.split(/\s+/);
    if (expectColumns) {
      if (!fields.every((f) => /^\d+$/.test(f))) throw new NvbandwidthParseError(`${current.test}: not a line of column indexes: ${line}`);
      current.columns = fields.map(Number);
      expectColumns = false;
      continue;
    }
    // The summary line newer versions print ("SUM <test> <value>"), and anything else that is not a row, end the matrix.
    if (!/^\d+$/.test(fields[0] ?? '') || current.columns.length === 0) continue;
    const values = fields.slice(1).map((f) => (f === 'N/A' ? null : Number(f)));
    if (values.length !== current.columns.length || values.some((v) => v !== null && !Number.isFinite(v))) {
      throw new NvbandwidthParseError(`${current.test}: not a row of ${current.columns.length} values: ${line}`);
    }
    current.rows.push({ index: Number(fields[0]), values });
  }
  return matrices;
}

/** The lowest value of a test's matrix (null: the test is not there or measured nothing), and where it is. */
export function lowestBandwidth(matrices: readonly NvbandwidthMatrix[], test: string): { gbs: number; row: number; column: number } | null {
  let lowest: { gbs: number; row: number; column: number } | null = null;
  for (const m of matrices.filter((x) => x.test === test)) {
    for (const row of m.rows) {
      row.values.forEach((v, i) => {
        if (v !== null && (lowest === null || v < lowest.gbs)) lowest = { gbs: v, row: row.index, column: m.columns[i] ?? i };
      });
    }
  }
  return lowest;
}
