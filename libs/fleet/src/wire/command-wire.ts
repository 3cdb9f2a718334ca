// Adapter: commands to agents and their progress reports, between the domain's
// types and the protobuf messages on the node's `commands` and `progress`
// topics. Field for field, nothing coerced.
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { acceptanceLimits, gpuStateOutput, type AcceptanceFacts, type AgentCommand } from '@metalfleet/domain';
import { CommandPhase, CommandProgressSchema, CommandSchema, type AcceptanceFacts as AcceptanceFactsMessage } from '@metalfleet/proto';
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
  /** An accept command's measurements (its SUCCEEDED report); null otherwise. */
  acceptance: AcceptanceFacts | null;
}

export { acceptanceLimits };

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
    case 'accept':
      return { case: 'accept', value: command.args };
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
  const acceptance = decoded.message.acceptance ? acceptanceFacts(decoded.message.acceptance) : null;
  // Measurements the manager cannot take make the suite a failed one (the node goes to repair, saying why), not a
  // report dropped: the command would wait for its result forever, and the node in `accepting` with it.
  if (typeof acceptance === 'string') return { ok: true, report: { commandId, phase: 'failed', message: `its acceptance report was refused: ${acceptance}`, verifiedSha256, madeAt, acceptance: null } };
  return { ok: true, report: { commandId, phase, message, verifiedSha256, madeAt, acceptance } };
}

const isBase64 = (text: string) => text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);

/** The measurements as the domain judges them, or what is wrong with them (the node's word: bounded, no NUL). */
function acceptanceFacts(m: AcceptanceFactsMessage): AcceptanceFacts | string {
  const limits = acceptanceLimits;
  const stressGpus = m.stress?.gpus ?? [];
  const texts = [...m.dcgm.flatMap((t) => [t.test, t.status, t.info, ...t.gpuIds]), ...m.outputs.map((o) => o.tool), m.nccl?.tool ?? '', m.stress?.tool ?? '',
    ...stressGpus.flatMap((g) => [g.result, ...g.clockEvents])];
  if (stressGpus.length > limits.gpus || stressGpus.some((g) => g.clockEvents.length > limits.clockEvents)) return `more than ${limits.gpus} stressed GPUs or ${limits.clockEvents} clock events a GPU`;
  if (m.nvlinks.length > limits.gpus || m.nvlinks.some((g) => g.linkGbs.length > limits.linksPerGpu)) return `more than ${limits.gpus} GPUs or ${limits.linksPerGpu} links a GPU`;
  if (m.dcgm.length > limits.dcgmTests) return `more than ${limits.dcgmTests} DCGM tests`;
  if (m.outputs.length > limits.outputs || m.outputs.some((o) => o.text.length > limits.outputChars)) return `more than ${limits.outputs} tool outputs or one over ${limits.outputChars} characters`;
  if (texts.some((t) => t.length > limits.textChars)) return `a name or status over ${limits.textChars} characters`;
  if ([...texts, ...m.outputs.map((o) => o.text)].some((t) => t.includes('\u0000'))) return 'text holding a NUL';
  const gpuStates = m.outputs.filter((o) => o.tool === gpuStateOutput.tool);
  if (gpuStates.length > 1) return `${gpuStates.length} GPU states (${gpuStateOutput.tool}); one a run`;
  if (gpuStates.some((o) => o.text.length > gpuStateOutput.maxChars || !isBase64(o.text))) return `a GPU state that is not base64 of at most ${gpuStateOutput.maxChars} characters`;
  const statuses = ['pass', 'warn', 'fail', 'skip'] as const;
  const badStatus = m.dcgm.find((t) => !(statuses as readonly string[]).includes(t.status));
  if (badStatus) return `DCGM test ${badStatus.test} with status "${badStatus.status}" (pass, warn, fail or skip)`;
  const numbers = [...m.nvlinks.flatMap((g) => g.linkGbs), m.nccl?.busbwGbs ?? 0, m.copies?.hostToDeviceGbs ?? 0, m.copies?.peerGbs ?? 0];
  if (stressGpus.some((g) => g.hasPeakTemp && (!Number.isFinite(g.peakTempC) || g.peakTempC < -50 || g.peakTempC > 200))) return 'a stress temperature that is not a number from -50 to 200 °C';
  if (numbers.some((n) => !Number.isFinite(n) || n < 0)) return 'a bandwidth that is not a number ≥ 0';
  return {
    nvlinks: m.nvlinksRead ? m.nvlinks.map((g) => ({ gpuIndex: g.gpuIndex, uuid: '', links: g.linkGbs.map((gbs) => (gbs > 0 ? gbs : null)) })) : null,
    nccl: m.nccl ? { busbwGBs: m.nccl.busbwGbs, sizeBytes: Number(m.nccl.sizeBytes), wrongResults: m.nccl.wrongResults, devices: m.nccl.devices, tool: m.nccl.tool } : null,
    dcgm: m.dcgmInstalled ? m.dcgm.map((t) => ({ test: t.test, gpuIds: [...t.gpuIds], status: t.status as (typeof statuses)[number], info: t.info, errorSeverity: null })) : null,
    copies: m.copies ? {
      hostToDevice: m.copies.hostToDeviceMeasured ? { gbs: m.copies.hostToDeviceGbs, gpu: m.copies.hostToDeviceGpu } : null,
      peer: m.copies.peerMeasured ? { gbs: m.copies.peerGbs, from: m.copies.peerFrom, to: m.copies.peerTo } : null,
    } : null,
    stress: m.stress ? {
      tool: m.stress.tool, seconds: m.stress.seconds, sampled: m.stress.sampled,
      gpus: stressGpus.map((g) => ({ index: g.index, result: g.result, errors: g.errors, peakTempC: g.hasPeakTemp ? g.peakTempC : null, clockEvents: g.sampled ? [...g.clockEvents] : null })),
    } : null,
    outputs: m.outputs.map((o) => ({ tool: o.tool, text: o.text })),
  };
}
