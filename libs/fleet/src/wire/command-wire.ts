// Adapter: commands to agents and their progress reports, between the domain's
// types and the protobuf messages on the node's `commands` and `progress`
// topics. Field for field, nothing coerced.
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { AgentCommand } from '@metalfleet/domain';
import { CommandPhase, CommandProgressSchema, CommandSchema } from '@metalfleet/proto';
import { decodePayload } from '@metalfleet/transport';

/** The phases an agent reports a command in; `refused`: not run, and never will be (withdrawn, or past its deadline). */
export type CommandProgressPhase = 'acked' | 'running' | 'succeeded' | 'failed' | 'refused';

export interface CommandProgressReport {
  commandId: string;
  phase: CommandProgressPhase;
  message: string;
  verifiedSha256: string;
  /** When the agent says it made the report (its clock); null when it did not say. */
  madeAt: Date | null;
}

const phaseOf: Partial<Record<CommandPhase, CommandProgressPhase>> = {
  [CommandPhase.ACKED]: 'acked', [CommandPhase.RUNNING]: 'running', [CommandPhase.SUCCEEDED]: 'succeeded', [CommandPhase.FAILED]: 'failed',
  [CommandPhase.REFUSED]: 'refused',
};

function commandKind(command: AgentCommand): MessageInitShape<typeof CommandSchema>['kind'] {
  switch (command.kind) {
    case 'reimage':
      return { case: 'reimage', value: command.args };
    case 'reboot':
      return { case: 'reboot', value: command.args };
    case 'reset-gpu':
      return { case: 'resetGpu', value: command.args };
  }
}

/**
 * The command message published to the node: stamped with when this delivery was sent (`at`), when the
 * command was first issued (the same in every resend) and the instant after which the manager may have
 * given it up (`expiresAt`, the manager's clock; docs/agent-commands.md).
 */
export function commandMessage(command: AgentCommand & { id: string; createdAt: Date }, at: Date, expiresAt: Date): Uint8Array {
  return toBinary(CommandSchema, create(CommandSchema, {
    commandId: command.id, issuedAt: timestampFromDate(at), firstIssuedAt: timestampFromDate(command.createdAt), expiresAt: timestampFromDate(expiresAt), kind: commandKind(command),
  }));
}

/** The command id of a message on a `commands` topic and the deadline it carries (null: none, a manager from before deadlines); id '' when it is not one. */
export function commandDeadlineOf(payload: Uint8Array): { commandId: string; expiresAt: Date | null } {
  try {
    const message = fromBinary(CommandSchema, payload);
    return { commandId: message.commandId, expiresAt: message.expiresAt ? timestampDate(message.expiresAt) : null };
  } catch {
    return { commandId: '', expiresAt: null };
  }
}

/** A progress report from a node, or why it is not one. */
export function decodeCommandProgress(payload: Uint8Array, maxBytes: number): { ok: true; report: CommandProgressReport } | { ok: false; error: string } {
  const decoded = decodePayload(CommandProgressSchema, payload, maxBytes);
  if (!decoded.ok) return decoded;
  const { commandId, message, verifiedSha256 } = decoded.message;
  const phase = phaseOf[decoded.message.phase];
  if (!phase) return { ok: false, error: `progress without a phase for command ${commandId}` };
  // Refused as bad input (acknowledged) what the store could never take, so it is not sent again forever: a NUL
  // (PostgreSQL text holds none), a time no Date holds.
  if ([commandId, message, verifiedSha256].some((text) => text.includes('\u0000'))) return { ok: false, error: `progress for command ${commandId.replaceAll('\u0000', '')} holding a NUL` };
  const madeAt = decoded.message.at ? timestampDate(decoded.message.at) : null;
  if (madeAt && !Number.isFinite(madeAt.getTime())) return { ok: false, error: `progress for command ${commandId} made at a time no date can hold` };
  return { ok: true, report: { commandId, phase, message, verifiedSha256, madeAt } };
}
