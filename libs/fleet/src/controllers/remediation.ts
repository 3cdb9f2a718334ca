// The remediation controller: when a node's health changes, the policy of
// libs/domain decides, and this carries it out. A tenant node with a hardware
// fault is drained, failed and sent to repair with its evidence; failing it
// replaces it (the lifecycle's effects, lifecycle-effects.ts): a matching
// spare — same rack first — is allocated to the tenant and reimaged with the
// tenant's template, and the cluster returns to its size by itself.
import { DomainError, decideRemediation, refusal, gpuIndexOfComponent, type FaultHistory, type NodeSummary } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import type { ClusterTemplates } from '../services/cluster-templates.ts';
import type { CommandOutbox } from './command-outbox.ts';
import type { FleetEvents } from '../events/fleet-events.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { Reimages } from './reimages.ts';

export interface RemediationDeps {
  store: FleetStore;
  events: FleetEvents;
  lifecycle: Lifecycle;
  templates: ClusterTemplates;
  reimages: Reimages;
  outbox: CommandOutbox;
  drain: (node: NodeSummary, reason: string) => Promise<void>;
  now: () => Date;
  /** A software remedy is not repeated on one node within this time (a fault that comes back needs a person). */
  cooldownMs: number;
  onError: (error: unknown, context: Record<string, unknown>) => void;
}

const actor = 'remediation';

export interface Remediation {
  /** An operator's replace: the same as for a hardware fault. Answers what happened. */
  replace(nodeId: string, reason: string, by: string): Promise<{ outcome: string; operationId: string | null }>;
  /** An operator's drain: the drain hook, nothing else. */
  drain(nodeId: string, reason: string): Promise<void>;
  stop(): void;
}

export function startRemediation(deps: RemediationDeps): Remediation {
  const lastAction = new Map<string, number>();
  const busy = new Map<string, Promise<void>>();
  const report = (nodeId: string, action: string, reason: string, outcome: string, operationId: string | null = null) => {
    deps.events.emit({ type: 'remediation', nodeId, action, reason, outcome, at: deps.now() });
    return { outcome, operationId };
  };

  /**
   * Drained, failed, sent to repair. Failing a tenant node is what replaces it: the lifecycle's effects
   * (lifecycle-effects.ts) take it out of its tenant and allocate and reimage a spare, whoever failed it.
   */
  async function replace(node: NodeSummary, reason: string, by = actor): Promise<{ outcome: string; operationId: string | null }> {
    const why = by === actor ? `hardware fault: ${reason}` : `replaced by an operator: ${reason}`;
    await deps.drain(node, why).catch((error: unknown) => deps.onError(error, { nodeId: node.id, step: 'drain hook' }));
    const failed = await deps.lifecycle.apply(node.id, 'fail', by, why);
    if (!failed.ok) return report(node.id, 'replace', reason, `not replaced: ${failed.reason}`);
    // An operator's retry may come between the two (the node is out of its tenant once failed): say so, not "in repair".
    const repaired = await deps.lifecycle.apply(node.id, 'repair', by, `sent to repair with its evidence: ${reason}`);
    const where = repaired.ok ? 'failed node in repair' : `failed node not sent to repair: ${repaired.reason}`;
    const replacement = failed.outcomes.find((o) => o.effect === 'request-replacement');
    if (!replacement) return { outcome: `${where}; no replacement was asked for`, operationId: null };
    return replacement.operationId
      ? { outcome: `${replacement.outcome}; ${where}`, operationId: replacement.operationId }
      : { outcome: `${where === 'failed node in repair' ? 'failed node sent to repair' : where}; ${replacement.outcome}`, operationId: null };
  }

  /** The node's recorded failures and the repairs and reimages it went through: a fault back after one escalates. */
  async function faultHistory(nodeId: string): Promise<FaultHistory> {
    const resets = (await deps.store.history(nodeId)).flatMap<FaultHistory['resets'][number]>((t) => (t.event === 'repaired' ? [{ at: t.at, kind: 'repaired' }]
      : t.event === 'provisioned' ? [{ at: t.at, kind: 'reimaged' }] : []));
    return { failures: resets.length === 0 ? [] : await deps.store.failuresOf(nodeId), resets };
  }

  async function remediate(nodeId: string): Promise<void> {
    const node = await deps.store.getNodeSummary(nodeId);
    if (!node) return;
    const decision = decideRemediation(node, await deps.store.conditions(nodeId), await faultHistory(nodeId));
    switch (decision.action) {
      case 'none':
        return;
      case 'replace':
        await replace(node, decision.reason);
        return;
      case 'repair': {
        const failed = await deps.lifecycle.apply(nodeId, 'fail', actor, `hardware fault on a spare: ${decision.reason}`);
        if (failed.ok) await deps.lifecycle.apply(nodeId, 'repair', actor, `sent to repair with its evidence: ${decision.reason}`);
        report(nodeId, 'repair', decision.reason, failed.ok ? 'out of the spare pool, in repair' : failed.reason);
        return;
      }
      default: {
        const last = lastAction.get(nodeId);
        if (last !== undefined && deps.now().getTime() - last < deps.cooldownMs) {
          report(nodeId, decision.action, decision.reason, 'not repeated: tried recently; needs a person');
          return;
        }
        lastAction.set(nodeId, deps.now().getTime());
        if (decision.action === 'reimage') {
          const template = node.tenant ? await deps.templates.forTenant(node.tenant) : null;
          if (!template) {
            report(nodeId, 'reimage', decision.reason, 'not reimaged: no template names the image this node should run');
            return;
          }
          const operation = await deps.reimages.create({ kind: 'reimage', image: template.image, nodeIds: [nodeId], priority: 50, urgent: true, actor, reason: `software fault: ${decision.reason}` });
          report(nodeId, 'reimage', decision.reason, `reimaging in place in operation ${operation.id}`);
          return;
        }
        const command = await deps.outbox.send(nodeId, { kind: 'reset-gpu', args: { gpuIndex: await gpuIndexOf(nodeId, decision.gpuComponent) } }, null);
        report(nodeId, decision.action, decision.reason, `command ${command.id} sent`);
      }
    }
  }

  async function gpuIndexOf(nodeId: string, component: string): Promise<number> {
    return gpuIndexOfComponent((await deps.store.getNode(nodeId))?.inventory.gpus ?? [], component) ?? 0;
  }

  // One remediation at a time per node; a change that arrives meanwhile is looked at afterwards.
  function schedule(nodeId: string): void {
    const next = (busy.get(nodeId) ?? Promise.resolve()).then(() => remediate(nodeId)).catch((error: unknown) => deps.onError(error, { nodeId, step: 'remediation' }));
    busy.set(nodeId, next);
    void next.finally(() => {
      if (busy.get(nodeId) === next) busy.delete(nodeId);
    });
  }

  const stop = deps.events.on((event) => {
    if (event.type === 'health-changed' || (event.type === 'health-digest' && event.conditions > 0)) schedule(event.nodeId);
  });

  async function nodeOrThrow(nodeId: string): Promise<NodeSummary> {
    const node = await deps.store.getNodeSummary(nodeId);
    if (!node) throw new DomainError('not-found', `no node ${nodeId}`);
    return node;
  }

  return {
    async replace(nodeId, reason, by) {
      const node = await nodeOrThrow(nodeId);
      // A failed node was replaced when it failed; one in no tenant has nothing to be replaced in.
      const refused = refusal('replace', node);
      if (refused) throw new DomainError('conflict', refused);
      // After any remediation already under way for this node.
      await busy.get(nodeId);
      return replace(node, reason, by);
    },
    async drain(nodeId, reason) {
      await deps.drain(await nodeOrThrow(nodeId), reason);
    },
    stop,
  };
}
