// Adapter: commands to agents and their progress reports, between the domain's
// types and the protobuf messages on the node's `commands` and `progress`
// topics. Field for field, nothing coerced.
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { AgentCommand } from '@metalfleet/domain';
import { CommandPhase, CommandProgressSchema, CommandSchema } from '@metalfleet/proto';
import { decodePayload } from '@metalfleet/transport';

/** The phases an agent reports a command in. */
export type CommandProgressPhase = 'acked' | 'running' | 'succeeded' | 'failed';

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

/** The command message published to the node, stamped with when it was sent. */
export function commandMessage(command: AgentCommand & { id: string }, at: Date): Uint8Array {
  return toBinary(CommandSchema, create(CommandSchema, { commandId: command.id, issuedAt: timestampFromDate(at), kind: commandKind(command) }));
}

/** A progress report from a node, or why it is not one. */
export function decodeCommandProgress(payload: Uint8Array, maxBytes: number): { ok: true; report: CommandProgressReport } | { ok: false; error: string } {
  const decoded = decodePayload(CommandProgressSchema, payload, maxBytes);
  if (!decoded.ok) return decoded;
  const { commandId, message, verifiedSha256 } = decoded.message;
  const phase = phaseOf[decoded.message.phase];
  if (!phase) return { ok: false, error: `progress without a phase for command ${commandId}` };
  return { ok: true, report: { commandId, phase, message, verifiedSha256, madeAt: decoded.message.at ? timestampDate(decoded.message.at) : null } };
}
