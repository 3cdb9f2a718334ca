// What each step of a node's reimage asks the manager to do (the effects of
// libs/domain's step function), carried out against the node, its BMC, the
// fabric and the agent. An effect reports back as the next signal; one that
// fails reports why, as a code the operation keeps.
import { imageLabel, unverifiedNote, type ReimageEffect, type ReimageFailureCode, type ReimageSignal } from '@metalfleet/domain';
import type { OperationNodeRecord, OperationRecord } from '@metalfleet/store';
import type { ReimageDeps } from './reimages.ts';

export type OpenNode = OperationNodeRecord & { operation: OperationRecord };

export interface EffectPort {
  /** Feeds the next signal to the node's reimage (after this effect, in order). */
  signal(s: ReimageSignal): void;
  /**
   * Writes the id of the command about to be sent on the node's step, before it goes out (awaited inside the effect,
   * which runs in the node's own order): the boot endpoint of any replica serves the install script only to a node
   * whose step names its command, and a replica killed between the publish and a later write left the rebooting
   * node to boot from its disk, its reimage failed.
   */
  commandGoingOut(commandId: string): Promise<void>;
}

/** The code a thrown error in each effect fails the reimage with. */
const errorCode: Record<ReimageEffect, ReimageFailureCode | null> = {
  drain: 'drain-failed', isolate: 'isolate-failed', 'send-command': 'command-failed', 'power-cycle-pxe': 'power-cycle-failed',
  'check-health': 'health-check-failed', restore: 'restore-failed', accept: 'transition-refused',
  // The entry has ended already: an error here is for the log.
  'fail-node': null, 'return-node': null,
};

export function createReimageEffects(deps: ReimageDeps) {
  const actor = (node: OpenNode) => `reimage ${node.operationId}`;

  /**
   * Asked of the store right before an action outside it (the BMC, the drain hook): whether this replica still holds
   * the reimaging lease. A replica paused after its step was written, and woken past its lease, acts no further; the
   * replica holding the lease now carries the step out from its stored phase. No fence (one manager, tests): yes. A
   * store that cannot answer (a failover) is a no: the step waits for its deadline or the lease's next holder, rather
   * than failing the reimage half-way between two BMC calls.
   */
  async function stillHolds(): Promise<boolean> {
    if (!deps.fence) return true;
    const fence = deps.fence();
    return fence !== null && deps.store.holdsLease(fence.lease, fence.holder, fence.epoch).catch(() => false);
  }

  async function carryOut(node: OpenNode, effect: ReimageEffect, port: EffectPort): Promise<void> {
    const fail = (code: ReimageFailureCode, details: string) => port.signal({ kind: 'failed', code, details });
    // Transitions of the node are made under the same lease as its steps.
    const fence = deps.fence ? deps.fence() : undefined;
    if (fence === null) return;
    const summary = await deps.store.getNodeSummary(node.nodeId);
    if (!summary) return fail('node-missing', 'the node no longer exists');
    const label = imageLabel(node.operation.image);
    switch (effect) {
      case 'drain':
        if (!(await stillHolds())) return;
        await deps.drain(summary, `reimage to ${label}`);
        return port.signal({ kind: 'drained' });
      case 'isolate': {
        const moved = await deps.lifecycle.apply(node.nodeId, 'provision', actor(node), `${node.operation.reason}: reimage to ${label}`, { fence });
        if (!moved.ok && summary.state !== 'provisioning') return fail('transition-refused', moved.reason);
        // The port must be on the provisioning network before the node reboots: wait for it (after a restart too).
        await deps.settleFabric();
        return port.signal({ kind: 'isolated' });
      }
      case 'send-command': {
        const image = await deps.store.getImage(node.operation.image);
        if (!image) return fail('image-missing', `image ${label} is no longer in the catalog`);
        const bmc = await deps.bmcFor(node.nodeId);
        // With a BMC the manager power-cycles the node into PXE once the agent acks (the agent only flushes its disks);
        // the next boot is set now too, so a node whose agent dies still boots the image after the timeout's power cycle.
        await bmc?.setNextBootPxe().catch((error: unknown) => deps.onError(error, { node: node.nodeId, step: 'bmc bootdev pxe' }));
        // A step taken meanwhile (a timeout queued before this effect failed the node, or moved it on) wants no command.
        if (node.progress.phase !== 'rebooting') return;
        const commandId = `reimage-${node.operationId}-${node.nodeId}`;
        await port.commandGoingOut(commandId);
        await deps.outbox.send(node.nodeId, { kind: 'reimage', args: {
          imageName: image.name, imageVersion: image.version, sha256: image.sha256, bootScriptUrl: deps.bootScriptUrl(summary), powerCycledByBmc: bmc !== null,
        } }, node.operationId, commandId, { mayAct: deps.runsHere ?? (() => true) });
        return;
      }
      case 'power-cycle-pxe': {
        const bmc = await deps.bmcFor(node.nodeId);
        if (!bmc) return fail('no-bmc', 'no BMC to power-cycle the node with');
        // Taken before the call: the node cannot fetch its install script because of this cycle any earlier.
        const at = deps.now();
        if (!(await stillHolds())) return;
        await bmc.setNextBootPxe();
        if (!(await stillHolds())) return;
        await bmc.powerCycle();
        // Recorded once the BMC did it: a manager that dies in between has no evidence, and the reported install is refused.
        return port.signal({ kind: 'power-cycled', at });
      }
      case 'check-health': {
        const critical = (await deps.store.conditions(node.nodeId)).filter((c) => c.severity === 'critical');
        if (critical.length > 0) return fail('unhealthy', `critical in the new image: ${critical.map((c) => `${c.component} ${c.code}`).join(', ')}`);
        return port.signal({ kind: 'healthy' });
      }
      case 'accept': {
        // Into acceptance testing, off the tenant's network still; the controller's passes follow the node from there
        // (acceptanceOutcome). Again after a restart: a node already past it is followed, not moved again.
        if (summary.state !== 'provisioning') return;
        const moved = await deps.lifecycle.apply(node.nodeId, 'accept', actor(node), `reimaged to ${label}: acceptance testing before it serves again`, { fence });
        if (!moved.ok) return fail('transition-refused', moved.reason);
        return;
      }
      case 'restore': {
        // The node's history says plainly when the manager could not verify the reimage (no BMC).
        const note = unverifiedNote(node.progress.evidence);
        const moved = await deps.lifecycle.apply(node.nodeId, 'provisioned', actor(node), note ? `reimaged to ${label} (${note})` : `reimaged to ${label}`, { fence });
        if (!moved.ok && summary.state !== 'active') return fail('transition-refused', moved.reason);
        await deps.settleFabric();
        return port.signal({ kind: 'restored' });
      }
      case 'fail-node': {
        const event = summary.state === 'provisioning' ? 'provision-failed' : 'fail';
        await deps.lifecycle.apply(node.nodeId, event, actor(node), `reimage to ${label} failed: ${node.progress.message}`, { fence });
        return;
      }
      case 'return-node': {
        // Never taken down: back to the state it was provisioned from (active: onto its tenant's network again).
        // Not provisioning: the isolation itself never happened.
        if (summary.state !== 'provisioning') return;
        await deps.lifecycle.apply(node.nodeId, 'provision-aborted', actor(node), `reimage to ${label} ended before the node went down: ${node.progress.message}`, { fence });
        return;
      }
      default:
        return unreachable(effect);
    }
  }

  return async function runEffect(node: OpenNode, effect: ReimageEffect, port: EffectPort): Promise<void> {
    try {
      await carryOut(node, effect, port);
    } catch (error) {
      const code = errorCode[effect];
      if (code === null) throw error;
      port.signal({ kind: 'failed', code, details: error instanceof Error ? error.message : String(error) });
    }
  };
}

function unreachable(effect: never): never {
  throw new Error(`no such reimage effect: ${String(effect)}`);
}
