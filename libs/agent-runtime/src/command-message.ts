// The agent's one edge for commands: the protobuf message on the `commands`
// topic becomes a domain AgentCommand here, checked by the same rules the
// manager applies before it sends one. A message that does not fit is refused
// with the reason (reported to the manager when it names a command id); no
// field is guessed or coerced.
import { fromBinary } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { checkAgentCommand, type AgentCommand } from '@metalfleet/domain';
import { CommandSchema, type Command } from '@metalfleet/proto';

export type DecodedCommand =
  /**
   * `issuedAt`: when the manager sent this delivery; `firstIssuedAt`: when it first sent the command;
   * `expiresAt`: after when the manager may have given it up. All three in the manager's clock; null when
   * the message does not say (a manager from before deadlines: then it takes no claims either).
   */
  | { ok: true; commandId: string; command: AgentCommand; issuedAt: Date | null; firstIssuedAt: Date | null; expiresAt: Date | null }
  /** `commandId` is '' when the message is not readable or names none: nothing to report to. */
  | { ok: false; commandId: string; error: string };

function argsOf(kind: Command['kind']): { kind: string; args: unknown } | null {
  switch (kind.case) {
    case 'reimage': {
      const { imageName, imageVersion, sha256, bootScriptUrl, powerCycledByBmc } = kind.value;
      return { kind: 'reimage', args: { imageName, imageVersion, sha256, bootScriptUrl, powerCycledByBmc } };
    }
    case 'reboot':
      return { kind: 'reboot', args: { pxeNext: kind.value.pxeNext } };
    case 'resetGpu':
      return { kind: 'reset-gpu', args: { gpuIndex: kind.value.gpuIndex } };
    case 'accept':
      return { kind: 'accept', args: { dcgmLevel: kind.value.dcgmLevel, nccl: kind.value.nccl, nvbandwidth: kind.value.nvbandwidth, stressSeconds: kind.value.stressSeconds } };
    case undefined:
      return null;
  }
}

export function decodeCommand(payload: Uint8Array): DecodedCommand {
  let message: Command;
  try {
    message = fromBinary(CommandSchema, payload);
  } catch (error) {
    return { ok: false, commandId: '', error: `undecodable command: ${error instanceof Error ? error.message : String(error)}` };
  }
  const { commandId } = message;
  if (commandId === '') return { ok: false, commandId, error: 'command without an id' };
  const mapped = argsOf(message.kind);
  // An unset oneof is also what a kind added after this agent was built looks like.
  if (!mapped) return { ok: false, commandId, error: 'command of no kind this agent knows (none set, or one newer than this agent)' };
  const checked = checkAgentCommand(mapped.kind, mapped.args);
  const time = (t: typeof message.issuedAt) => (t ? timestampDate(t) : null);
  return checked.ok
    ? { ok: true, commandId, command: checked.command, issuedAt: time(message.issuedAt), firstIssuedAt: time(message.firstIssuedAt), expiresAt: time(message.expiresAt) }
    : { ok: false, commandId, error: `refused: ${checked.error}` };
}
