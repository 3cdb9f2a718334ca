// metalfleet tenants, images, templates and tokens.
import type { Command } from 'commander';
import type { Static } from 'typebox';
import type { ApiTokenList, ImageList, Operation, Tenant, TemplateList } from '@metalfleet/api';
import { orDash, type CliContext } from '../context.ts';
import { formatTable } from '../table.ts';
import { waitAndExit } from './operations.ts';

interface TenantList { items: Tenant[] }
type Images = Static<typeof ImageList>;
type Templates = Static<typeof TemplateList>;
type TokenList = Static<typeof ApiTokenList>;

const splitRef = (ref: string) => {
  const at = ref.lastIndexOf('@');
  if (at <= 0) throw new Error(`${ref}: expected name@version`);
  return `${encodeURIComponent(ref.slice(0, at))}/${encodeURIComponent(ref.slice(at + 1))}`;
};

export function registerFleetAdmin(program: Command, ctx: CliContext): void {
  const tenants = program.command('tenants').description('tenants, their networks and nodes');
  tenants.command('ls').action(async () => {
    const list = await ctx.client().get<TenantList>('/api/v1/tenants');
    ctx.print(list, () => formatTable(['ID', 'NAME', 'VLAN', 'VNI', 'NODES'], list.items.map((t) => [t.id, t.name, String(t.vlan), String(t.vni), String(t.nodes.length)])));
  });
  tenants.command('show').argument('<id>').action(async (id: string) => {
    const t = await ctx.client().get<Tenant>(`/api/v1/tenants/${encodeURIComponent(id)}`);
    ctx.print(t, () => [`Tenant: ${t.name} (${t.id}), VLAN ${t.vlan}, VNI ${t.vni}`, '',
      formatTable(['NODE', 'HOSTNAME', 'STATE'], t.nodes.map((n) => [n.id, n.hostname, n.state]))].join('\n'));
  });
  tenants.command('create').argument('<name>').action(async (name: string) => {
    const t = await ctx.client().request<Tenant>('POST', '/api/v1/tenants', { name });
    ctx.print(t, () => `tenant ${t.name}: ${t.id}, VLAN ${t.vlan}, VNI ${t.vni}`);
  });
  tenants.command('delete').argument('<id>').action(async (id: string) => {
    await ctx.client().request('DELETE', `/api/v1/tenants/${encodeURIComponent(id)}`);
    ctx.print({ deleted: id }, () => `tenant ${id} deleted`);
  });
  tenants.command('add').description('allocate an available node to the tenant').argument('<tenant>').argument('<node>').action(async (tenant: string, node: string) => {
    const t = await ctx.client().request<Tenant>('POST', `/api/v1/tenants/${encodeURIComponent(tenant)}/nodes`, { nodeId: node });
    ctx.print(t, () => `${node} allocated to ${t.name}`);
  });
  tenants.command('remove').description('release a node from the tenant').argument('<tenant>').argument('<node>').action(async (tenant: string, node: string) => {
    const t = await ctx.client().request<Tenant>('DELETE', `/api/v1/tenants/${encodeURIComponent(tenant)}/nodes/${encodeURIComponent(node)}`);
    ctx.print(t, () => `${node} released from ${t.name}`);
  });

  const images = program.command('images').description('the image catalog');
  images.command('ls').action(async () => {
    const list = await ctx.client().get<Images>('/api/v1/images');
    ctx.print(list, () => formatTable(['IMAGE', 'KERNEL', 'ROOT', 'SHA256'], list.items.map((i) => [`${i.name}@${i.version}`, i.kernelUrl, orDash(i.rootUrl), i.sha256.slice(0, 16) || '-'])));
  });
  images.command('put').description('add or replace name@version').argument('<name@version>')
    .requiredOption('--kernel <url>').requiredOption('--initrd <url>').option('--root <url>', 'root image to install (with --sha256)', '')
    .option('--sha256 <hex>', 'sha256 of the root image', '').option('--cmdline <text>', 'extra kernel command line', '')
    .action(async (ref: string, o: { kernel: string; initrd: string; root: string; sha256: string; cmdline: string }) => {
      const image = await ctx.client().request('PUT', `/api/v1/images/${splitRef(ref)}`, { kernelUrl: o.kernel, initrdUrl: o.initrd, rootUrl: o.root, sha256: o.sha256, cmdline: o.cmdline });
      ctx.print(image, () => `${ref} in the catalog`);
    });
  images.command('rm').argument('<name@version>').action(async (ref: string) => {
    await ctx.client().request('DELETE', `/api/v1/images/${splitRef(ref)}`);
    ctx.print({ deleted: ref }, () => `${ref} removed`);
  });

  const templates = program.command('templates').description('cluster templates');
  templates.command('ls').action(async () => {
    const list = await ctx.client().get<Templates>('/api/v1/templates');
    ctx.print(list, () => formatTable(['ID', 'NAME', 'IMAGE', 'TENANT', 'NODES', 'GPUS'], list.items.map((t) => [t.id, t.name, t.image, t.tenantId, String(t.nodeCount), `${t.gpuCount} ${t.gpuModel}`.trim()])));
  });
  templates.command('apply').description('top the tenant up to the template\'s size: allocate matching spares and reimage them').argument('<id>')
    .option('--wait', 'follow the operation with a progress bar until it ends; exit 5 if any node failed', false)
    .action(async (id: string, o: { wait: boolean }) => {
      const result = await ctx.client().request<{ operation: Operation | null; allocated: string[]; already: number }>('POST', `/api/v1/templates/${encodeURIComponent(id)}/apply`);
      if (o.wait && result.operation) await waitAndExit(ctx, result.operation.id);
      ctx.print(result, () => (result.operation
        ? `allocated ${result.allocated.join(', ')}; operation ${result.operation.id} reimages them`
        : `the tenant already has its ${result.already} node(s)`));
    });

  const tokens = program.command('tokens').description('API tokens (admin)');
  tokens.command('ls').action(async () => {
    const list = await ctx.client().get<TokenList>('/api/v1/tokens');
    ctx.print(list, () => formatTable(['ID', 'NAME', 'ROLE', 'TENANT', 'STATE', 'EXPIRES', 'LAST USED'],
      list.items.map((t) => [t.id, t.name, t.role, orDash(t.tenantId), t.state, orDash(t.expiresAt), orDash(t.lastUsedAt)])));
  });
  tokens.command('create').description('create a token; its secret is printed once').requiredOption('--name <name>').requiredOption('--role <role>', 'admin, operator or viewer')
    .option('--tenant <id>', 'scope it to one tenant').option('--ttl-s <seconds>', 'lifetime; default: no expiry')
    .action(async (o: { name: string; role: string; tenant?: string; ttlS?: string }) => {
      const created = await ctx.client().request<{ id: string; token: string }>('POST', '/api/v1/tokens', {
        name: o.name, role: o.role, tenantId: o.tenant ?? null, ttlSeconds: o.ttlS === undefined ? null : Number(o.ttlS),
      });
      ctx.print(created, () => `token ${created.id} (shown once):\n${created.token}`);
    });
  tokens.command('revoke').argument('<id>').action(async (id: string) => {
    await ctx.client().request('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
    ctx.print({ revoked: id }, () => `token ${id} revoked`);
  });
}
