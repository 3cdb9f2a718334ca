// Commands to agents, with the outbox pattern: a command is written to the
// store before it is published (QoS 1, the node's persistent session), sent
// again while unacknowledged, and given up (escalated) after the last try.
// Progress comes back on the node's `progress` topic; a node can report only
// on its own commands. After a restart, resume() sends what was in flight.
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { DomainError } from '@metalfleet/domain';
import { CommandPhase, CommandProgressSchema, CommandSchema } from '@metalfleet/proto';
import type { CommandKind, CommandRecord, CommandState, FleetStore } from '@metalfleet/store';
import type { NodeBroker } from '@metalfleet/manager-transport';
import { allNodesTopic, decodePayload, nodeTopic, parseNodeTopic } from '@metalfleet/transport';
import type { FleetEvents } from './fleet-events.ts';

export interface OutboxDeps {
  store: FleetStore;
  broker: NodeBroker;
  events: FleetEvents;
  now: () => Date;
  newId: () => string;
  /** How long a delivery waits for its ack before it is sent again. */
  ackTimeoutMs: number;
  /** Deliveries before the command is given up. */
  maxAttempts: number;
  maxPayloadBytes: number;
}

type Progress = 'acked' | 'running' | 'succeeded' | 'failed';
const phaseOf: Partial<Record<CommandPhase, Progress>> = {
  [CommandPhase.ACKED]: 'acked', [CommandPhase.RUNNING]: 'running', [CommandPhase.SUCCEEDED]: 'succeeded', [CommandPhase.FAILED]: 'failed',
};
// Which states a report may move a command from: a late ack never reopens a finished command.
const movesFrom: Record<Progress, readonly CommandState[]> = {
  acked: ['pending', 'sent'],
  running: ['pending', 'sent', 'acked', 'running'],
  // A reimage's result comes from the next boot, which may find the command expired (the node was power-cycled).
  succeeded: ['pending', 'sent', 'acked', 'running', 'expired'],
  failed: ['pending', 'sent', 'acked', 'running', 'expired'],
};

function commandKind(record: CommandRecord): MessageInitShape<typeof CommandSchema>['kind'] {
  const a = record.args;
  switch (record.kind) {
    case 'reimage':
      return {
        case: 'reimage',
        value: {
          imageName: String(a['imageName'] ?? ''), imageVersion: String(a['imageVersion'] ?? ''), sha256: String(a['sha256'] ?? ''),
          bootScriptUrl: String(a['bootScriptUrl'] ?? ''), powerCycledByBmc: a['powerCycledByBmc'] === true,
        },
      };
    case 'reboot':
      return { case: 'reboot', value: { pxeNext: a['pxeNext'] === true } };
    case 'reset-gpu':
      return { case: 'resetGpu', value: { gpuIndex: Number(a['gpuIndex'] ?? 0) } };
  }
}

function commandMessage(record: CommandRecord, at: Date): Uint8Array {
  return toBinary(CommandSchema, create(CommandSchema, { commandId: record.id, issuedAt: timestampFromDate(at), kind: commandKind(record) }));
}

export function createCommandOutbox(deps: OutboxDeps) {
  async function publish(record: CommandRecord, attempt: number): Promise<void> {
    const at = deps.now();
    await deps.store.updateCommand(record.id, ['pending', 'sent'], { state: 'sent', attempts: attempt, ackDeadlineAt: new Date(at.getTime() + deps.ackTimeoutMs) }, at);
    await deps.broker.publish(nodeTopic(record.nodeId, 'commands'), commandMessage(record, at), { qos: 1, retain: false });
    deps.events.emit({ type: 'command-sent', commandId: record.id, nodeId: record.nodeId, kind: record.kind, attempt, at });
  }

  return {
    /**
     * Persists and publishes a command. With an `id` the call is idempotent: a
     * command already written under that id is returned as it is (the sweep
     * delivers it), so a caller resuming after a crash never sends it twice.
     */
    async send(nodeId: string, kind: CommandKind, args: CommandRecord['args'], operationId: string | null, id?: string): Promise<CommandRecord> {
      if (id) {
        const existing = await deps.store.getCommand(id);
        if (existing) return existing;
      }
      if (!(await deps.store.getNodeSummary(nodeId))) throw new DomainError('not-found', `no node ${nodeId}`);
      const at = deps.now();
      const record: CommandRecord = {
        id: id ?? deps.newId(), nodeId, operationId, kind, args, state: 'pending', attempts: 0, ackDeadlineAt: null, message: '', verifiedSha256: '', createdAt: at, updatedAt: at,
      };
      await deps.store.createCommand(record);
      await publish(record, 1);
      return record;
    },

    /** Sends again what is due, gives up what has had every try. Run periodically. */
    async sweep(): Promise<void> {
      const at = deps.now();
      for (const command of await deps.store.openCommands()) {
        const due = command.state === 'pending' || (command.state === 'sent' && command.ackDeadlineAt !== null && command.ackDeadlineAt <= at);
        if (!due) continue;
        if (command.attempts < deps.maxAttempts) {
          await publish(command, command.attempts + 1);
        } else if (await deps.store.updateCommand(command.id, ['sent'], { state: 'expired', message: `no ack after ${command.attempts} deliveries` }, at)) {
          deps.events.emit({ type: 'command-expired', commandId: command.id, nodeId: command.nodeId, operationId: command.operationId, attempts: command.attempts, at });
        }
      }
    },

    /** After a restart: deliver again everything not yet acknowledged (the agent carries out each id once). */
    async resume(): Promise<number> {
      const unacked = (await deps.store.openCommands()).filter((c) => c.state === 'pending' || c.state === 'sent');
      for (const command of unacked) await publish(command, Math.min(command.attempts + 1, deps.maxAttempts));
      return unacked.length;
    },

    /** Listens for progress reports on every node's `progress` topic. */
    async listen(): Promise<void> {
      await deps.broker.subscribe(allNodesTopic('progress'), async ({ topic, payload }) => {
        const parsed = parseNodeTopic(topic);
        if (!parsed) return;
        const bad = (error: string) => deps.events.emit({ type: 'bad-message', nodeId: parsed.nodeId, topic, error, at: deps.now() });
        const decoded = decodePayload(CommandProgressSchema, payload, deps.maxPayloadBytes);
        if (!decoded.ok) return bad(decoded.error);
        const report = decoded.message;
        const phase = phaseOf[report.phase];
        if (!phase) return bad(`progress without a phase for command ${report.commandId}`);
        const command = await deps.store.getCommand(report.commandId);
        // Unknown, or another node's command: refused, nothing changes.
        if (!command || command.nodeId !== parsed.nodeId) return bad(`progress for command ${report.commandId}, which is not this node's`);
        const at = deps.now();
        const state: CommandState = phase;
        const changed = await deps.store.updateCommand(command.id, movesFrom[phase], {
          state, message: report.message, ...(report.verifiedSha256 ? { verifiedSha256: report.verifiedSha256 } : {}),
        }, at);
        if (!changed) return; // a repeated or late report
        deps.events.emit({
          type: 'command-progress', commandId: command.id, nodeId: command.nodeId, operationId: command.operationId, phase, message: report.message, verifiedSha256: report.verifiedSha256, at,
        });
      });
    },
  };
}

export type CommandOutbox = ReturnType<typeof createCommandOutbox>;
