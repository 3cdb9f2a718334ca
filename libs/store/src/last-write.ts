// The latest time the manager stamped on anything it wrote that a running
// manager writes often: nodes seen and their presence, commands, reimage steps,
// lifecycle transitions, health received, API calls audited. Every one is the
// manager's time, never a node's. At a start it bounds how long the manager was
// down (libs/fleet/src/time/downtime.ts) when clock.json is older than it should
// be: its writes failed (a full disk) while the store's still went through.
// The same SQL on SQLite and PostgreSQL; the newest transition and audit row are
// read by their keys, the rest by a scan (once, at a start).
export const lastWriteSql = `SELECT MAX(t) AS t FROM (
  SELECT MAX(last_seen_at) AS t FROM nodes
  UNION ALL SELECT MAX(presence_changed_at) FROM nodes
  UNION ALL SELECT MAX(updated_at) FROM commands
  UNION ALL SELECT MAX(updated_at) FROM operation_nodes
  UNION ALL SELECT MAX(received_at) FROM health_events
  UNION ALL SELECT (SELECT at FROM node_transitions ORDER BY id DESC LIMIT 1)
  UNION ALL SELECT (SELECT at FROM audit_log ORDER BY seq DESC LIMIT 1)
) AS writes`;

/** The row lastWriteSql returns, as a date (PostgreSQL returns a BIGINT as a string). */
export function lastWriteFromRow(row: { t: unknown } | undefined): Date | null {
  const ms = row?.t === null || row?.t === undefined ? Number.NaN : Number(row.t);
  return Number.isFinite(ms) ? new Date(ms) : null;
}
