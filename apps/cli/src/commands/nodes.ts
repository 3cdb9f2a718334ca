// metalfleet nodes ls|show|reimage|replace|drain|power (retry|repair|repaired|retire: node-lifecycle.ts)
import { Argument, type Command } from 'commander';
import { ReimageBatch, type NodeDetail, type Operation } from '@metalfleet/api';
import { orDash, type CliContext } from '../context.ts';
import { nodeArg, resolveNode, resolveNodes, resolveTenant, tenantNames } from '../resolve.ts';
import { integerIn } from '../flags.ts';
import { formatTable } from '../table.ts';
import { registerNodeLifecycle } from './node-lifecycle.ts';
import { waitAndExit } from './operations.ts';

export function registerNodes(program: Command, ctx: CliContext): void {
  const nodes = program.command('nodes').description('nodes of the fleet');

  nodes.command('ls').description('list nodes with their presence, state, tenant and health')
    .option('--state <state>', 'only nodes in this lifecycle state').option('--tenant <tenant>', 'only this tenant\'s nodes (its name, id or id prefix)').option('--rack <rack>', 'only this rack')
    .option('--health <health>', 'ok, warning or critical').option('-q, --search <text>', 'free text: id, host name, serials, UUID, MACs, GPU model')
    .action(async (options: { state?: string; tenant?: string; rack?: string; health?: string; search?: string }) => {
      const client = ctx.client();
      const tenant = options.tenant === undefined ? undefined : await resolveTenant(client, options.tenant);
      const query = Object.entries({ state: options.state, tenant, rack: options.rack, health: options.health, q: options.search })
        .filter(([, v]) => v !== undefined).map(([k, v]) => `&${k}=${encodeURIComponent(v ?? '')}`).join('');
      const list = await client.listNodes(query);
      const tenantName = await tenantNames(client);
      ctx.print(list, () => formatTable(
        ['ID', 'HOSTNAME', 'PRESENCE', 'STATE', 'TENANT', 'RACK', 'HEALTH', 'GPUS', 'SYSTEM UUID', 'LAST SEEN'],
        list.items.map((n) => [n.id, n.hostname, n.presence, n.state, tenantName(n.tenant), orDash(n.rack), n.health.severity, `${n.gpuCount} ${n.gpuModel}`.trim(),
          orDash(n.identity.systemUuid), orDash(n.lastSeenAt)]),
      ));
    });

  nodes.command('show').description('one node with its inventory, conditions and history').argument('<node>', nodeArg).action(async (ref: string) => {
    const client = ctx.client();
    const node = await client.get<NodeDetail>(`/api/v1/nodes/${encodeURIComponent(await resolveNode(client, ref))}`);
    const tenantName = await tenantNames(client);
    ctx.print(node, () => [
      `ID:        ${node.id}`, `Hostname:  ${node.hostname}`, `Presence:  ${node.presence}`, `State:     ${node.state}`, `Tenant:    ${node.tenant ? `${tenantName(node.tenant)} (${node.tenant})` : '-'}`,
      `UUID:      ${orDash(node.identity.systemUuid)}`, `Serial:    ${orDash(node.identity.systemSerial)}`,
      `MACs:      ${node.identity.macs.join(', ')}`,
      `System:    ${node.inventory.system.vendor} ${node.inventory.system.model}`.trimEnd(),
      `CPUs:      ${node.inventory.cpus.map((c) => c.model).join(', ')}`,
      `GPUs:      ${node.inventory.gpus.length} ${node.inventory.gpus[0]?.model ?? ''}`.trimEnd(),
      `Health:    ${node.conditions.length === 0 ? 'ok' : node.conditions.map((c) => `${c.severity} ${c.component} ${c.code}`).join('; ')}`,
      `Actions:   ${node.actions.length > 0 ? node.actions.join(', ') : 'none (retired)'}`,
      `History:`, ...node.history.slice(-5).map((h) => `  ${h.at} ${h.from} → ${h.to} (${h.event}) by ${h.actor}: ${h.reason}`),
    ].join('\n'));
  });

  nodes.command('reimage').description('reimage nodes with a catalog image (one operation for all)').argument('<nodes...>', nodeArg)
    .requiredOption('--image <name@version>', 'catalog image').option('--priority <n>', 'higher goes first', integerIn(ReimageBatch.properties.priority), 0).option('--reason <text>', 'why', 'operator request (CLI)')
    .option('--wait', 'follow the operation with a progress bar until it ends; exit 5 if any node failed', false)
    .action(async (refs: string[], options: { image: string; priority: number; reason: string; wait: boolean }) => {
      const client = ctx.client();
      const ids = await resolveNodes(client, refs);
      const { priority } = options;
      const operation = ids.length === 1
        ? await client.request<Operation>('POST', `/api/v1/nodes/${encodeURIComponent(ids[0] ?? '')}/reimage`, { image: options.image, priority })
        : await client.request<Operation>('POST', '/api/v1/reimage', { image: options.image, priority, nodeIds: ids, reason: options.reason });
      if (options.wait) await waitAndExit(ctx, operation.id);
      ctx.print(operation, () => `operation ${operation.id}: reimaging ${operation.progress.total} node(s) to ${operation.image}; metalfleet operations watch ${operation.id}`);
    });

  nodes.command('replace').description('replace a tenant\'s node: drain, fail and repair it, and reimage a matching spare into the tenant')
    .argument('<node>', nodeArg).requiredOption('--reason <text>', 'why (kept in the history and the audit log)').option('--wait', 'follow the replacement\'s reimage', false)
    .action(async (ref: string, options: { reason: string; wait: boolean }) => {
      const id = await resolveNode(ctx.client(), ref);
      const result = await ctx.client().request<{ outcome: string; operationId: string | null }>('POST', `/api/v1/nodes/${encodeURIComponent(id)}/replace`, { reason: options.reason });
      if (options.wait && result.operationId) await waitAndExit(ctx, result.operationId);
      ctx.print(result, () => `${id}: ${result.outcome}`);
    });

  nodes.command('drain').description('drain the node\'s workloads through the manager\'s drain hook').argument('<node>', nodeArg)
    .requiredOption('--reason <text>', 'why').action(async (ref: string, options: { reason: string }) => {
      const id = await resolveNode(ctx.client(), ref);
      await ctx.client().request('POST', `/api/v1/nodes/${encodeURIComponent(id)}/drain`, { reason: options.reason });
      ctx.print({ nodeId: id, drained: true }, () => `${id}: drained`);
    });

  nodes.command('power').description('power state through the node\'s BMC, or on, off, cycle, or next boot from the network')
    .argument('<node>', nodeArg).addArgument(new Argument('[action]', 'what to do').choices(['status', 'on', 'off', 'cycle', 'pxe']).default('status'))
    .action(async (ref: string, action: string) => {
      const id = await resolveNode(ctx.client(), ref);
      const path = `/api/v1/nodes/${encodeURIComponent(id)}/power`;
      const client = ctx.client();
      const state = action === 'status' ? await client.get<{ power: string }>(path) : await client.request<{ power: string }>('POST', path, { action });
      ctx.print({ nodeId: id, ...state }, () => `${id}: power ${state.power}`);
    });

  registerNodeLifecycle(nodes, ctx);
}
