// WorkStore in SQL both SQLite and PostgreSQL speak: times are epoch
// milliseconds, structured arguments are JSON text.
import { DomainError, checkAgentCommand, commandKinds, type ClusterTemplate, type Image, type ReimagePhase } from '@metalfleet/domain';
import { evidenceFromJson, evidenceToJson, failureFromJson, failureToJson } from './reimage-evidence-json.ts';
import { FencedOut, fenceHolds } from './lease-store.ts';
import type { SqlExecutor } from './sql-executor.ts';
import type { JournalWithin } from './event-journal-store.ts';
import type { BmcConfig, CommandRecord, EnrollmentRecord, CommandState, OperationNodeRecord, OperationRecord, WorkStore } from './work-store.ts';

interface ImageRow { name: string; version: string; kernel_url: string; initrd_url: string; root_url: string; sha256: string; cmdline: string }
interface TemplateRow { id: string; name: string; spec: string; created_at: number }
interface OperationRow { id: string; kind: string; state: string; image_name: string; image_version: string; priority: number; urgent: number; actor: string; reason: string; created_at: number; updated_at: number }
interface OperationNodeRow { operation_id: string; node_id: string; position: number; rack: string; tenant: string | null; phase: string; power_cycles: number; deadline_at: number | null; message: string; command_id: string | null; updated_at: number; evidence: string; failure: string | null }
interface EnrollmentRow { mac: string; bmc: string; created_at: number; node_id: string | null; claimed_at: number | null }
interface CommandRow { id: string; node_id: string; operation_id: string | null; kind: string; args: string; state: string; attempts: number; ack_deadline_at: number | null; message: string; verified_sha256: string; created_at: number; updated_at: number }

const rowEnrollment = (r: EnrollmentRow): EnrollmentRecord => ({
  mac: r.mac, bmc: JSON.parse(r.bmc) as BmcConfig, createdAt: new Date(Number(r.created_at)), nodeId: r.node_id,
  claimedAt: r.claimed_at === null ? null : new Date(Number(r.claimed_at)),
});
const rowImage = (r: ImageRow): Image => ({ name: r.name, version: r.version, kernelUrl: r.kernel_url, initrdUrl: r.initrd_url, rootUrl: r.root_url, sha256: r.sha256, cmdline: r.cmdline });

function rowTemplate(r: TemplateRow): ClusterTemplate {
  const spec = JSON.parse(r.spec) as Omit<ClusterTemplate, 'id' | 'name' | 'createdAt'>;
  return { id: r.id, name: r.name, ...spec, createdAt: new Date(r.created_at) };
}

const rowOperation = (r: OperationRow): OperationRecord => ({
  id: r.id, kind: r.kind as OperationRecord['kind'], state: r.state as OperationRecord['state'], image: { name: r.image_name, version: r.image_version },
  priority: r.priority, urgent: r.urgent === 1, actor: r.actor, reason: r.reason, createdAt: new Date(r.created_at), updatedAt: new Date(r.updated_at),
});

const rowOperationNode = (r: OperationNodeRow): OperationNodeRecord => ({
  operationId: r.operation_id, nodeId: r.node_id, position: r.position, rack: r.rack, tenant: r.tenant,
  progress: { phase: r.phase as ReimagePhase, powerCycles: r.power_cycles, deadlineAt: r.deadline_at === null ? null : new Date(r.deadline_at), message: r.message,
    evidence: evidenceFromJson(r.evidence), failure: failureFromJson(r.failure) },
  commandId: r.command_id, updatedAt: new Date(r.updated_at),
});

// The arguments are checked as they come back: a row that no longer fits its kind is an error, not a command sent with guessed values.
function commandOf(r: CommandRow) {
  const checked = checkAgentCommand(r.kind, JSON.parse(r.args));
  if (!checked.ok) throw new DomainError('internal', `stored command ${r.id} is invalid: ${checked.error}`);
  return checked.command;
}

/** Refused arguments when the stored text is not JSON at all; null when it parses. */
function argsJson(text: string): { ok: false; error: string } | null {
  try {
    JSON.parse(text);
    return null;
  } catch {
    return { ok: false, error: 'the arguments are not JSON' };
  }
}

const rowCommand = (r: CommandRow): CommandRecord => ({
  id: r.id, nodeId: r.node_id, operationId: r.operation_id, ...commandOf(r),
  state: r.state as CommandState, attempts: r.attempts, ackDeadlineAt: r.ack_deadline_at === null ? null : new Date(r.ack_deadline_at),
  message: r.message, verifiedSha256: r.verified_sha256, createdAt: new Date(r.created_at), updatedAt: new Date(r.updated_at),
});

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');
// Both databases take thousands of parameters per statement; 13 columns × 400 rows stays far below.
const nodeRowsPerInsert = 400;

/** `now`: the database's clock in ms, as an SQL expression of the dialect (for fenced writes). */
export function sqlWorkStore(db: SqlExecutor, now: string, journal: JournalWithin): WorkStore {
  const insertCommand = async (c: CommandRecord): Promise<void> => {
    await db.run(`INSERT INTO commands (id, node_id, operation_id, kind, args, state, attempts, ack_deadline_at, message, verified_sha256, created_at, updated_at)
      VALUES (${placeholders(12)})`,
    [c.id, c.nodeId, c.operationId, c.kind, JSON.stringify(c.args), c.state, c.attempts, c.ackDeadlineAt?.getTime() ?? null, c.message, c.verifiedSha256,
      c.createdAt.getTime(), c.updatedAt.getTime()]);
  };
  return {
    async putImage(image, at) {
      await db.run(`INSERT INTO images (name, version, kernel_url, initrd_url, root_url, sha256, cmdline, created_at) VALUES (${placeholders(8)})
        ON CONFLICT (name, version) DO UPDATE SET kernel_url = excluded.kernel_url, initrd_url = excluded.initrd_url, root_url = excluded.root_url,
        sha256 = excluded.sha256, cmdline = excluded.cmdline`,
      [image.name, image.version, image.kernelUrl, image.initrdUrl, image.rootUrl, image.sha256.toLowerCase(), image.cmdline, at.getTime()]);
    },
    async listImages() {
      return (await db.all<ImageRow>('SELECT * FROM images ORDER BY name, version')).map(rowImage);
    },
    async getImage(ref) {
      const [row] = await db.all<ImageRow>('SELECT * FROM images WHERE name = ? AND version = ?', [ref.name, ref.version]);
      return row ? rowImage(row) : null;
    },
    async deleteImage(ref) {
      return (await db.run('DELETE FROM images WHERE name = ? AND version = ?', [ref.name, ref.version])) > 0;
    },

    async createTemplate(template) {
      const { id, name, createdAt, ...spec } = template;
      try {
        await db.run('INSERT INTO templates (id, name, spec, created_at) VALUES (?, ?, ?, ?)', [id, name, JSON.stringify(spec), createdAt.getTime()]);
      } catch (error) {
        if (db.isUniqueViolation(error)) throw new DomainError('conflict', `a template named ${name} exists`);
        throw error;
      }
    },
    async listTemplates() {
      return (await db.all<TemplateRow>('SELECT * FROM templates ORDER BY name')).map(rowTemplate);
    },
    async getTemplate(id) {
      const [row] = await db.all<TemplateRow>('SELECT * FROM templates WHERE id = ?', [id]);
      return row ? rowTemplate(row) : null;
    },
    async deleteTemplate(id) {
      return (await db.run('DELETE FROM templates WHERE id = ?', [id])) > 0;
    },

    async setBmc(nodeId, bmc) {
      if (!bmc) {
        await db.run('DELETE FROM node_bmcs WHERE node_id = ?', [nodeId]);
        return;
      }
      await db.run('INSERT INTO node_bmcs (node_id, config) VALUES (?, ?) ON CONFLICT (node_id) DO UPDATE SET config = excluded.config', [nodeId, JSON.stringify(bmc)]);
    },
    async getBmc(nodeId) {
      const [row] = await db.all<{ config: string }>('SELECT config FROM node_bmcs WHERE node_id = ?', [nodeId]);
      return row ? (JSON.parse(row.config) as BmcConfig) : null;
    },
    async listBmcs() {
      return (await db.all<{ node_id: string; config: string }>('SELECT node_id, config FROM node_bmcs ORDER BY node_id')).map((r) => ({ nodeId: r.node_id, bmc: JSON.parse(r.config) as BmcConfig }));
    },

    async putEnrollment(e) {
      await db.run(`INSERT INTO enrollments (mac, bmc, created_at, node_id, claimed_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (mac) DO UPDATE SET bmc = excluded.bmc, created_at = excluded.created_at, node_id = excluded.node_id, claimed_at = excluded.claimed_at`,
      [e.mac.toLowerCase(), JSON.stringify(e.bmc), e.createdAt.getTime(), e.nodeId, e.claimedAt?.getTime() ?? null]);
    },
    async listEnrollments() {
      return (await db.all<EnrollmentRow>('SELECT * FROM enrollments ORDER BY created_at, mac')).map(rowEnrollment);
    },
    async claimEnrollment(macs, nodeId, at) {
      if (macs.length === 0) return null;
      const lower = macs.map((m) => m.toLowerCase());
      const [row] = await db.all<EnrollmentRow>(`SELECT * FROM enrollments WHERE node_id IS NULL AND mac IN (${placeholders(lower.length)}) ORDER BY mac`, lower);
      if (!row) return null;
      await db.run('UPDATE enrollments SET node_id = ?, claimed_at = ? WHERE mac = ? AND node_id IS NULL', [nodeId, at.getTime(), row.mac]);
      return { ...rowEnrollment(row), nodeId, claimedAt: at };
    },

    async createOperation(op, nodes, events = []) {
      // One transaction: an operation exists with all its nodes or not at all, and the one-open-entry-per-node index
      // refuses a node another operation holds, however many creations race.
      const statements: Array<{ sql: string; params: unknown[] }> = [{
        sql: `INSERT INTO operations (id, kind, state, image_name, image_version, priority, urgent, actor, reason, created_at, updated_at) VALUES (${placeholders(11)})`,
        params: [op.id, op.kind, op.state, op.image.name, op.image.version, op.priority, op.urgent ? 1 : 0, op.actor, op.reason, op.createdAt.getTime(), op.updatedAt.getTime()],
      }];
      for (let i = 0; i < nodes.length; i += nodeRowsPerInsert) {
        const chunk = nodes.slice(i, i + nodeRowsPerInsert);
        statements.push({
          sql: `INSERT INTO operation_nodes (operation_id, node_id, position, rack, tenant, phase, power_cycles, deadline_at, message, command_id, updated_at, evidence, failure)
            VALUES ${chunk.map(() => `(${placeholders(13)})`).join(', ')}`,
          params: chunk.flatMap((n) => [n.operationId, n.nodeId, n.position, n.rack, n.tenant, n.progress.phase, n.progress.powerCycles, n.progress.deadlineAt?.getTime() ?? null,
            n.progress.message, n.commandId, n.updatedAt.getTime(), evidenceToJson(n.progress.evidence), failureToJson(n.progress.failure)]),
        });
      }
      statements.push(...journal.statements(events));
      try {
        await db.atomically(statements);
        journal.committed(events);
      } catch (error) {
        if (!db.isUniqueViolation(error)) throw error;
        const ids = nodes.map((n) => n.nodeId);
        const held = (await db.all<{ node_id: string; operation_id: string }>(
          `SELECT node_id, operation_id FROM operation_nodes WHERE phase NOT IN ('done', 'failed') AND node_id IN (${placeholders(ids.length)}) ORDER BY node_id`, ids));
        if (held.length === 0) throw new DomainError('conflict', `operation ${op.id} exists`);
        throw new DomainError('conflict', `node ${held.map((h) => `${h.node_id} is already in operation ${h.operation_id}`).join(', node ')}`,
          { nodeIds: held.map((h) => h.node_id) });
      }
    },
    async getOperation(id) {
      const [row] = await db.all<OperationRow>('SELECT * FROM operations WHERE id = ?', [id]);
      return row ? rowOperation(row) : null;
    },
    async operationNodes(operationId) {
      return (await db.all<OperationNodeRow>('SELECT * FROM operation_nodes WHERE operation_id = ? ORDER BY position', [operationId])).map(rowOperationNode);
    },
    async listOperations(limit) {
      return (await db.all<OperationRow>('SELECT * FROM operations ORDER BY created_at DESC, id LIMIT ?', [limit])).map(rowOperation);
    },
    async operationsToFinish() {
      return (await db.all<OperationRow>(`SELECT * FROM operations o WHERE o.state = 'running'
        AND NOT EXISTS (SELECT 1 FROM operation_nodes n WHERE n.operation_id = o.id AND n.phase NOT IN ('done', 'failed'))
        ORDER BY o.created_at, o.id`)).map(rowOperation);
    },
    async finishOperation(id, state, at) {
      await db.run('UPDATE operations SET state = ?, updated_at = ? WHERE id = ?', [state, at.getTime(), id]);
    },
    async saveOperationNode(operationId, nodeId, progress, commandId, at, fence) {
      const held = fence ? fenceHolds(fence, now) : null;
      const written = await db.run(`UPDATE operation_nodes SET phase = ?, power_cycles = ?, deadline_at = ?, message = ?, command_id = ?, updated_at = ?, evidence = ?, failure = ?
        WHERE operation_id = ? AND node_id = ?${held ? ` AND ${held.sql}` : ''}`,
      [progress.phase, progress.powerCycles, progress.deadlineAt?.getTime() ?? null, progress.message, commandId, at.getTime(), evidenceToJson(progress.evidence),
        failureToJson(progress.failure), operationId, nodeId, ...(held?.params ?? [])]);
      if (fence && written === 0 && (await db.all('SELECT 1 FROM operation_nodes WHERE operation_id = ? AND node_id = ?', [operationId, nodeId])).length > 0) {
        throw new FencedOut(fence, `the step of node ${nodeId} in operation ${operationId}`);
      }
    },
    async openOperationNodes() {
      const rows = await db.all<OperationNodeRow & { [K in keyof OperationRow as `op_${K}`]: OperationRow[K] }>(`
        SELECT n.*, o.id AS op_id, o.kind AS op_kind, o.state AS op_state, o.image_name AS op_image_name, o.image_version AS op_image_version,
          o.priority AS op_priority, o.urgent AS op_urgent, o.actor AS op_actor, o.reason AS op_reason, o.created_at AS op_created_at, o.updated_at AS op_updated_at
        FROM operation_nodes n JOIN operations o ON o.id = n.operation_id
        WHERE o.state = 'running' AND n.phase NOT IN ('done', 'failed')
        ORDER BY o.created_at, o.id, n.position`);
      return rows.map((r) => ({
        ...rowOperationNode(r),
        operation: rowOperation({
          id: r.op_id, kind: r.op_kind, state: r.op_state, image_name: r.op_image_name, image_version: r.op_image_version, priority: r.op_priority,
          urgent: r.op_urgent, actor: r.op_actor, reason: r.op_reason, created_at: r.op_created_at, updated_at: r.op_updated_at,
        }),
      }));
    },

    async createCommand(c) {
      await insertCommand(c);
    },
    async createCommandReplacing(c, replaces, unlessClaimed) {
      if (unlessClaimed.length === 0) {
        await insertCommand(c);
        return 'sent';
      }
      const at = c.updatedAt.getTime();
      const watched = placeholders(unlessClaimed.length);
      // Claimed (perhaps finished since): the agent runs it, so the newer one must not run too.
      const claimed = `SELECT id FROM commands WHERE id IN (${watched}) AND state IN ('acked', 'running', 'succeeded', 'failed')`;
      const statements = replaces.length === 0 ? [] : [{
        sql: `UPDATE commands SET state = 'expired', message = ?, updated_at = ? WHERE id IN (${placeholders(replaces.length)}) AND state IN ('pending', 'sent')`,
        params: [`superseded by command ${c.id}; withdrawn`, at, ...replaces],
      }];
      // One transaction: SQLite runs it alone; on PostgreSQL the update locks each row it gives up, so a claim of one
      // waits and then finds it expired, and a claim stored before is seen by the insert (a statement of its own).
      await db.atomically([...statements, {
        sql: `INSERT INTO commands (id, node_id, operation_id, kind, args, state, attempts, ack_deadline_at, message, verified_sha256, created_at, updated_at)
          VALUES (?, ?, ?, ?, ?,
            CASE WHEN EXISTS (${claimed}) THEN 'expired' ELSE ? END, ?, ?,
            CASE WHEN EXISTS (${claimed}) THEN 'not sent: command ' || (${claimed} ORDER BY id LIMIT 1)
              || ', which does the same, was claimed by the agent first; it runs instead' ELSE ? END,
            ?, ?, ?)`,
        params: [c.id, c.nodeId, c.operationId, c.kind, JSON.stringify(c.args), ...unlessClaimed, c.state, c.attempts, c.ackDeadlineAt?.getTime() ?? null,
          ...unlessClaimed, ...unlessClaimed, c.message, c.verifiedSha256, c.createdAt.getTime(), at],
      }]);
      const [row] = await db.all<{ state: string }>('SELECT state FROM commands WHERE id = ?', [c.id]);
      return row?.state === 'expired' ? 'expired' : 'sent';
    },
    async getCommand(id) {
      const [row] = await db.all<CommandRow>('SELECT * FROM commands WHERE id = ?', [id]);
      return row ? rowCommand(row) : null;
    },
    async updateCommand(id, from, update, at, fence) {
      const sets: string[] = ['updated_at = ?'];
      const params: unknown[] = [at.getTime()];
      const set = (column: string, value: unknown) => {
        sets.push(`${column} = ?`);
        params.push(value);
      };
      if (update.state !== undefined) set('state', update.state);
      if (update.attempts !== undefined) set('attempts', update.attempts);
      if (update.ackDeadlineAt !== undefined) set('ack_deadline_at', update.ackDeadlineAt?.getTime() ?? null);
      if (update.message !== undefined) set('message', update.message);
      if (update.verifiedSha256 !== undefined) set('verified_sha256', update.verifiedSha256);
      const held = fence ? fenceHolds(fence, now) : null;
      return (await db.run(`UPDATE commands SET ${sets.join(', ')} WHERE id = ? AND state IN (${placeholders(from.length)})${held ? ` AND ${held.sql}` : ''}`,
        [...params, id, ...from, ...(held?.params ?? [])])) > 0;
    },
    async openCommands() {
      const rows = await db.all<CommandRow>("SELECT * FROM commands WHERE state IN ('pending', 'sent', 'acked', 'running') ORDER BY created_at, id");
      const open: CommandRecord[] = [];
      // One row that does not fit must not stop every other command (the sweep and the manager's start read them all).
      for (const row of rows) {
        if (!(commandKinds as readonly string[]).includes(row.kind)) continue; // a newer manager's kind: that manager sends it
        const checked = argsJson(row.args) ?? checkAgentCommand(row.kind, JSON.parse(row.args));
        if (checked.ok) {
          open.push(rowCommand(row));
          continue;
        }
        // A kind this manager sends, with arguments it would refuse (and the agent too): ended with the reason, never sent.
        await db.run("UPDATE commands SET state = 'failed', message = ?, updated_at = ? WHERE id = ? AND state IN ('pending', 'sent', 'acked', 'running')",
          [`stored command is invalid, not sent: ${checked.error}`, Date.now(), row.id]);
      }
      return open;
    },
    async commandsOf(nodeId, limit) {
      return (await db.all<CommandRow>('SELECT * FROM commands WHERE node_id = ? ORDER BY created_at DESC, id DESC LIMIT ?', [nodeId, limit])).map(rowCommand);
    },
  };
}
