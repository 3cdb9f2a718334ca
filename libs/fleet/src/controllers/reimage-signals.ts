// What a node's stored state says to its reimage, for steps that may lag it: the
// reports stored on its command (taken by another replica, or cut off by a
// stop), and where the lifecycle has taken a node being acceptance-tested.
import type { ReimageSignal } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';

/**
 * The steps a command's stored state stands for, for a node whose steps may lag it (they were another replica's, or
 * a stop cut them off). A command that ended (succeeded, failed) was acknowledged (running) before: a node still
 * waiting for that is given it first. When either was made is not kept: at the earliest, when the command was made.
 */
export function storedReportSignals(node: { progress: { phase: string } }, command: { state: string; createdAt: Date; verifiedSha256: string; message: string }): ReimageSignal[] {
  const final = reportedSignal({ ...command, updatedAt: command.createdAt });
  if (!final) return [];
  const ended = command.state === 'succeeded' || command.state === 'failed';
  return ended && node.progress.phase === 'rebooting' ? [{ kind: 'rebooting', at: command.createdAt }, final] : [final];
}

/** The reimage step a command's reported state stands for (none for a command not reported on). */
export function reportedSignal(command: { state: string; updatedAt: Date; verifiedSha256: string; message: string }): ReimageSignal | null {
  if (command.state === 'running') return { kind: 'rebooting', at: command.updatedAt };
  if (command.state === 'succeeded') return { kind: 'installed', sha256: command.verifiedSha256 };
  if (command.state === 'failed') return { kind: 'failed', code: 'agent-failed', details: `the agent reported: ${command.message}` };
  // Refused by the agent, or given up by the manager: the node will not answer it (a timeout: power-cycle or fail).
  if (command.state === 'refused' || command.state === 'expired') return { kind: 'timeout' };
  return null;
}

/**
 * Where a node in its reimage's acceptance testing stands, as the lifecycle has it (the acceptance controller judges
 * the suite and moves the node): back with its tenant (active), still accepting (null: wait), or out — failed,
 * replaced, sent to repair or retired — with the reason its history gives.
 */
export async function acceptanceOutcome(store: Pick<FleetStore, 'getNodeSummary' | 'history'>, nodeId: string): Promise<ReimageSignal | null> {
  const node = await store.getNodeSummary(nodeId);
  if (!node) return { kind: 'failed', code: 'node-missing', details: 'the node no longer exists' };
  if (node.state === 'accepting' || node.state === 'provisioning') return null;
  if (node.state === 'active') return { kind: 'accepted' };
  const last = (await store.history(nodeId)).at(-1);
  return { kind: 'failed', code: 'acceptance-failed', details: `the node is ${node.state}${last ? `: ${last.reason}` : ''}` };
}
