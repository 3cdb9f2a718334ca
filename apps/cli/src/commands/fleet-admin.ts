// metalfleet tenants, images and API tokens (templates and bootstrap tokens: provisioning.ts).
import type { Command } from 'commander';
import type { Static } from 'typebox';
import { CreateApiToken, RoleName, type ApiTokenList, type ImageList, type Tenant } from '@metalfleet/api';
import { orDash, UsageError, type CliContext } from '../context.ts';
import { formatTable } from '../table.ts';
import { choiceOption, integerIn } from '../flags.ts';
import { nodeArg, resolveNode, resolveTenant, tenantArg, tenantNames } from '../resolve.ts';

interface TenantList { items: Tenant[] }
type Images = Static<typeof ImageList>;
type TokenList = Static<typeof ApiTokenList>;

const splitRef = (ref: string) => {
  const at = ref.lastIndexOf('@');
  if (at <= 0) throw new UsageError(`${ref}: expected name@version`);
  return `${encodeURIComponent(ref.slice(0, at))}/${encodeURIComponent(ref.slice(at + 1))}`;
};

export function registerFleetAdmin(program: Command, ctx: CliContext): void {
  const tenants = program.command('tenants').description('tenants, their networks and nodes');
  tenants.command('ls').action(async () => {
    const list = await ctx.client().get<TenantList>('/api/v1/tenants');
    ctx.print(list, () => formatTable(['ID', 'NAME', 'VLAN', 'VNI', 'NODES'], list.items.map((t) => [t.id, t.name, String(t.vlan), String(t.vni), String(t.nodes.length)])));
  });
  tenants.command('show').argument('<tenant>', tenantArg).action(async (ref: string) => {
    const client = ctx.client();
    const t = await client.get<Tenant>(`/api/v1/tenants/${encodeURIComponent(await resolveTenant(client, ref))}`);
    ctx.print(t, () => [`Tenant: ${t.name} (${t.id}), VLAN ${t.vlan}, VNI ${t.vni}`, '',
      formatTable(['NODE', 'HOSTNAME', 'STATE'], t.nodes.map((n) => [n.id, n.hostname, n.state]))].join('\n'));
  });
  tenants.command('create').argument('<name>').action(async (name: string) => {
    const t = await ctx.client().request<Tenant>('POST', '/api/v1/tenants', { name });
    ctx.print(t, () => `tenant ${t.name}: ${t.id}, VLAN ${t.vlan}, VNI ${t.vni}`);
  });
  tenants.command('delete').argument('<tenant>', tenantArg).action(async (ref: string) => {
    const client = ctx.client();
    const id = await resolveTenant(client, ref);
    await client.request('DELETE', `/api/v1/tenants/${encodeURIComponent(id)}`);
    ctx.print({ deleted: id }, () => `tenant ${ref} (${id}) deleted`);
  });
  tenants.command('add').description('allocate an available node to the tenant').argument('<tenant>', tenantArg).argument('<node>', nodeArg).action(async (tenantRef: string, nodeRef: string) => {
    const client = ctx.client();
    const [tenant, node] = [await resolveTenant(client, tenantRef), await resolveNode(client, nodeRef)];
    const t = await client.request<Tenant>('POST', `/api/v1/tenants/${encodeURIComponent(tenant)}/nodes`, { nodeId: node });
    ctx.print(t, () => `${nodeRef} (${node}) allocated to ${t.name}`);
  });
  tenants.command('remove').description('release a node from the tenant').argument('<tenant>', tenantArg).argument('<node>', nodeArg).action(async (tenantRef: string, nodeRef: string) => {
    const client = ctx.client();
    const [tenant, node] = [await resolveTenant(client, tenantRef), await resolveNode(client, nodeRef)];
    const t = await client.request<Tenant>('DELETE', `/api/v1/tenants/${encodeURIComponent(tenant)}/nodes/${encodeURIComponent(node)}`);
    ctx.print(t, () => `${nodeRef} (${node}) released from ${t.name}`);
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

  const tokens = program.command('tokens').description('API tokens (admin)');
  tokens.command('ls').action(async () => {
    const client = ctx.client();
    const list = await client.get<TokenList>('/api/v1/tokens');
    const tenantName = await tenantNames(client);
    ctx.print(list, () => formatTable(['ID', 'NAME', 'ROLE', 'TENANT', 'STATE', 'EXPIRES', 'LAST USED'],
      list.items.map((t) => [t.id, t.name, t.role, tenantName(t.tenantId), t.state, orDash(t.expiresAt), orDash(t.lastUsedAt)])));
  });
  tokens.command('create').description('create a token; its secret is printed once').requiredOption('--name <name>')
    .addOption(choiceOption('--role <role>', 'what it may do', RoleName).makeOptionMandatory())
    .option('--tenant <tenant>', `scope it to one tenant (${tenantArg})`).option('--ttl-s <seconds>', 'lifetime; default: no expiry', integerIn(CreateApiToken.properties.ttlSeconds))
    .action(async (o: { name: string; role: string; tenant?: string; ttlS?: number }) => {
      const client = ctx.client();
      const tenantId = o.tenant === undefined ? null : await resolveTenant(client, o.tenant);
      const created = await client.request<{ id: string; token: string }>('POST', '/api/v1/tokens', {
        name: o.name, role: o.role, tenantId, ttlSeconds: o.ttlS ?? null,
      });
      ctx.print(created, () => `token ${created.id} (shown once):\n${created.token}`);
    });
  tokens.command('revoke').argument('<id>').action(async (id: string) => {
    await ctx.client().request('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
    ctx.print({ revoked: id }, () => `token ${id} revoked`);
  });
}
