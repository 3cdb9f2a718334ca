// Alert rules made through the API, the alerts themselves (so a restart neither
// forgets a firing alert nor tells it twice) and silences; plus the XID reports
// the XID-storm rule counts, read from the health events already kept. Part of
// FleetStore; one SQL implementation serves SQLite and PostgreSQL.
import { DomainError, type Alert, type AlertRuleSpec, type Silence } from '@metalfleet/domain';
import type { SqlExecutor } from './sql-executor.ts';

export interface StoredAlertRule {
  spec: AlertRuleSpec;
  createdAt: Date;
  createdBy: string;
}

export interface AlertStore {
  /** Fails with `conflict` when the name is taken. */
  createAlertRule(rule: StoredAlertRule): Promise<void>;
  listAlertRules(): Promise<StoredAlertRule[]>;
  deleteAlertRule(name: string): Promise<boolean>;
  loadAlerts(): Promise<Alert[]>;
  /** Writes the alerts that changed and forgets the ones gone. */
  saveAlerts(changed: readonly Alert[], forgotten: readonly string[]): Promise<void>;
  createSilence(silence: Silence): Promise<void>;
  listSilences(): Promise<Silence[]>;
  /** Ends a silence now (if it had not ended); false when there is no such silence. */
  expireSilence(id: string, at: Date): Promise<boolean>;
  /** XID conditions that appeared or changed (their count grew) in health events received after `since`. */
  xidReportsSince(since: Date): Promise<Array<{ nodeId: string; at: Date; code: string }>>;
}

interface RuleRow { name: string; spec: string; created_at: number; created_by: string }
interface AlertRow { body: string }
interface SilenceRow { id: string; matchers: string; starts_at: number; ends_at: number; created_by: string; comment: string }
interface ReportRow { node_id: string; received_at: number; changes_json: string }

type AlertJson = Omit<Alert, 'activeSince' | 'firingSince' | 'resolvedAt'> & { activeSince: string; firingSince: string | null; resolvedAt: string | null };
const toDate = (iso: string | null) => (iso === null ? null : new Date(iso));
const rowAlert = (r: AlertRow): Alert => {
  const a = JSON.parse(r.body) as AlertJson;
  return { ...a, activeSince: new Date(a.activeSince), firingSince: toDate(a.firingSince), resolvedAt: toDate(a.resolvedAt) };
};
const rowSilence = (r: SilenceRow): Silence => ({
  id: r.id, matchers: JSON.parse(r.matchers) as Silence['matchers'], startsAt: new Date(Number(r.starts_at)), endsAt: new Date(Number(r.ends_at)), createdBy: r.created_by, comment: r.comment,
});

export function sqlAlertStore(db: SqlExecutor): AlertStore {
  return {
    async createAlertRule({ spec, createdAt, createdBy }) {
      try {
        await db.run('INSERT INTO alert_rules (name, spec, created_at, created_by) VALUES (?, ?, ?, ?)', [spec.name, JSON.stringify(spec), createdAt.getTime(), createdBy]);
      } catch (error) {
        if (db.isUniqueViolation(error)) throw new DomainError('conflict', `an alert rule named ${spec.name} exists`);
        throw error;
      }
    },
    async listAlertRules() {
      const rows = await db.all<RuleRow>('SELECT * FROM alert_rules ORDER BY name');
      return rows.map((r) => ({ spec: JSON.parse(r.spec) as AlertRuleSpec, createdAt: new Date(Number(r.created_at)), createdBy: r.created_by }));
    },
    async deleteAlertRule(name) {
      return (await db.run('DELETE FROM alert_rules WHERE name = ?', [name])) > 0;
    },
    async loadAlerts() {
      return (await db.all<AlertRow>('SELECT body FROM alerts ORDER BY fingerprint')).map(rowAlert);
    },
    async saveAlerts(changed, forgotten) {
      for (const a of changed) {
        await db.run('INSERT INTO alerts (fingerprint, rule, state, body) VALUES (?, ?, ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET rule = excluded.rule, state = excluded.state, body = excluded.body',
          [a.fingerprint, a.rule, a.state, JSON.stringify(a)]);
      }
      for (const fingerprint of forgotten) await db.run('DELETE FROM alerts WHERE fingerprint = ?', [fingerprint]);
    },
    async createSilence(s) {
      await db.run('INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment) VALUES (?, ?, ?, ?, ?, ?)',
        [s.id, JSON.stringify(s.matchers), s.startsAt.getTime(), s.endsAt.getTime(), s.createdBy, s.comment]);
    },
    async listSilences() {
      return (await db.all<SilenceRow>('SELECT * FROM silences ORDER BY starts_at, id')).map(rowSilence);
    },
    async expireSilence(id, at) {
      const found = await db.all<SilenceRow>('SELECT * FROM silences WHERE id = ?', [id]);
      if (found.length === 0) return false;
      await db.run('UPDATE silences SET ends_at = ? WHERE id = ? AND ends_at > ?', [at.getTime(), id, at.getTime()]);
      return true;
    },
    async xidReportsSince(since) {
      const rows = await db.all<ReportRow>("SELECT node_id, received_at, changes_json FROM health_events WHERE received_at > ? AND changes_json LIKE '%xid-%' ORDER BY received_at", [since.getTime()]);
      return rows.flatMap((r) => (JSON.parse(r.changes_json) as Array<{ kind: string; condition: { code: string } }>)
        .filter((c) => c.kind !== 'cleared' && c.condition.code.startsWith('xid-'))
        .map((c) => ({ nodeId: r.node_id, at: new Date(Number(r.received_at)), code: c.condition.code })));
    },
  };
}
