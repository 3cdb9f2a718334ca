// Acceptance runs: each time a node's suite was judged, with every check and
// the tools' own outputs (the vendor's evidence keeps them). Part of
// FleetStore; one SQL implementation serves SQLite and PostgreSQL.
import type { AcceptanceCheck } from '@metalfleet/domain';
import type { SqlExecutor } from './sql-executor.ts';

export interface AcceptanceRun {
  nodeId: string;
  /** The accept command whose report was judged: one run per command. */
  commandId: string;
  /** The SKU profile it was judged by; null when none matched. */
  profile: string | null;
  passed: boolean;
  checks: AcceptanceCheck[];
  outputs: Array<{ tool: string; text: string }>;
  at: Date;
}

export interface AcceptanceStore {
  /** Keeps a run once per command: the same command again changes nothing (and answers false). */
  recordAcceptance(run: AcceptanceRun): Promise<boolean>;
  /** A node's runs, newest first. */
  acceptanceRuns(nodeId: string, limit: number): Promise<AcceptanceRun[]>;
}

/** Runs kept per node, newest: a node reimaged and accepted again and again does not grow its history without end. */
export const acceptanceRunsKept = 50;

interface RunRow { node_id: string; command_id: string; profile: string | null; passed: number | boolean; checks: string; outputs: string; at: number }

export function sqlAcceptanceStore(db: SqlExecutor): AcceptanceStore {
  return {
    async recordAcceptance(r) {
      const added = (await db.run('INSERT INTO acceptance_runs (node_id, command_id, profile, passed, checks, outputs, at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (command_id) DO NOTHING',
        [r.nodeId, r.commandId, r.profile, r.passed ? 1 : 0, JSON.stringify(r.checks), JSON.stringify(r.outputs), r.at.getTime()])) > 0;
      // Older than the node's newest `acceptanceRunsKept`: none while it has fewer (the bound is then NULL).
      if (added) {
        await db.run(`DELETE FROM acceptance_runs WHERE node_id = ? AND at < (SELECT at FROM acceptance_runs WHERE node_id = ? ORDER BY at DESC LIMIT 1 OFFSET ${acceptanceRunsKept - 1})`,
          [r.nodeId, r.nodeId]);
      }
      return added;
    },
    async acceptanceRuns(nodeId, limit) {
      const rows = await db.all<RunRow>('SELECT * FROM acceptance_runs WHERE node_id = ? ORDER BY at DESC, command_id LIMIT ?', [nodeId, limit]);
      return rows.map((r) => ({
        nodeId: r.node_id, commandId: r.command_id, profile: r.profile, passed: Number(r.passed) === 1, at: new Date(Number(r.at)),
        checks: JSON.parse(r.checks) as AcceptanceCheck[], outputs: JSON.parse(r.outputs) as AcceptanceRun['outputs'],
      }));
    },
  };
}
