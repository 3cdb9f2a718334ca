// The ways out of failed and repair, by hand: retry (inspected again, back to
// the pool if healthy), send to repair, mark repaired (what was done, the
// ticket) and retire. Each is refused, naming what the node's state allows,
// unless libs/domain's node actions allow it; each is kept in the node's
// history with who and why.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError, NodeActionResult, NodeIdParams, NodeLifecycleAction } from '@metalfleet/api';
import { actionEvents, actionsFor, DomainError, refusal, type LifecycleAction } from '@metalfleet/domain';
import type { FabricReconciler, Lifecycle } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';
import { actorOf, needs } from './access.ts';

export interface NodeLifecycleRouteDeps {
  store: Pick<FleetStore, 'getNodeSummary' | 'openOperationNodes'>;
  lifecycle: Pick<Lifecycle, 'apply'>;
  reconciler: Pick<FabricReconciler, 'reconcile'>;
}

const summaries: Record<LifecycleAction, string> = {
  retry: 'Inspect a failed node again (it left its tenant when it failed): it rejoins the pool when healthy',
  repair: 'Send a failed node to repair (out of the pool until marked repaired)',
  repaired: 'Mark a node in repair repaired, with what was done and the ticket: it is inspected again before it serves',
  retire: 'Retire a node for good: off every tenant network and powered off; final',
};

export const nodeLifecycleRoutes: FastifyPluginAsyncTypebox<NodeLifecycleRouteDeps> = async (app, { store, lifecycle, reconciler }) => {
  for (const action of Object.keys(actionEvents) as LifecycleAction[]) {
    app.post(`/api/v1/nodes/:id/${action}`, {
      schema: {
        ...needs('nodes:write'), summary: summaries[action], params: NodeIdParams, body: NodeLifecycleAction,
        response: { 200: NodeActionResult, 400: ApiError, 403: ApiError, 404: ApiError, 409: ApiError },
      },
    }, async (request) => {
      const { id } = request.params;
      const { reason, ticket } = request.body;
      const why = ticket ? `${reason} (ticket ${ticket})` : reason;
      request.auditDetail = `node ${id} ${action}: ${why.slice(0, 200)}`;
      const node = await store.getNodeSummary(id);
      if (!node) throw new DomainError('not-found', `no node ${id}`);
      const refused = refusal(action, node);
      if (refused) throw new DomainError('conflict', refused);
      // A reimage still open on the node (one whose deadline has not passed) would power it on again and install on it.
      const open = (await store.openOperationNodes()).find((n) => n.nodeId === id);
      if (open) throw new DomainError('conflict', `node ${id} is still in reimage operation ${open.operationId} (${open.progress.phase}): wait for it to end, or cancel it`);
      const result = await lifecycle.apply(id, actionEvents[action], actorOf(request), why);
      if (!result.ok) throw new DomainError('conflict', result.reason);
      // Retired for good: its certificates are revoked by the transition's effects (whoever retires it).
      await reconciler.reconcile();
      const now = await store.getNodeSummary(id);
      return { nodeId: id, from: result.from, to: result.to, actions: now ? actionsFor(now) : [] };
    });
  }
};
