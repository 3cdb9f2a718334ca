// metalfleet templates (a tenant's cluster shape: image, node count, GPUs) and
// bootstrap-tokens (what a new machine's agent registers with).
import type { Command } from 'commander';
import type { Static } from 'typebox';
import { CreateBootstrapToken, CreateTemplate, type BootstrapTokenList, type Operation, type Template, type TemplateList } from '@metalfleet/api';
import { orDash, UsageError, type CliContext } from '../context.ts';
import { integerIn } from '../flags.ts';
import { NotFoundError, resolveAmong, resolveTenant, tenantArg, tenantNames } from '../resolve.ts';
import { formatTable } from '../table.ts';
import { waitAndExit } from './operations.ts';

type Templates = Static<typeof TemplateList>;
type BootstrapTokens = Static<typeof BootstrapTokenList>;

async function resolveTemplate(ctx: CliContext, ref: string): Promise<string> {
  const list = await ctx.client().get<Templates>('/api/v1/templates');
  const found = resolveAmong(ref, list.items);
  if (found.kind === 'one') return found.id;
  if (found.kind === 'none') throw new NotFoundError(`no template ${JSON.stringify(ref)} (by name, id or a unique id prefix)`);
  throw new UsageError(`${JSON.stringify(ref)} names ${found.matches.length} templates; give one of their ids: ${found.matches.map((m) => m.id).join(', ')}`);
}

const templateArg = 'template name, id or unique id prefix';

export function registerProvisioning(program: Command, ctx: CliContext): void {
  const templates = program.command('templates').description('cluster templates: a tenant\'s image, node count and GPUs');
  templates.command('ls').action(async () => {
    const client = ctx.client();
    const list = await client.get<Templates>('/api/v1/templates');
    const tenantName = await tenantNames(client);
    ctx.print(list, () => formatTable(['ID', 'NAME', 'IMAGE', 'TENANT', 'NODES', 'GPUS'],
      list.items.map((t) => [t.id, t.name, t.image, tenantName(t.tenantId), String(t.nodeCount), `${t.gpuCount} ${t.gpuModel}`.trim()])));
  });
  templates.command('create').description('a template for a tenant; `templates apply` allocates and reimages its nodes').argument('<name>')
    .requiredOption('--tenant <tenant>', tenantArg).requiredOption('--image <name@version>', 'catalog image')
    .requiredOption('--nodes <n>', 'how many nodes', integerIn(CreateTemplate.properties.nodeCount))
    .option('--gpu-model <model>', 'exact GPU model (empty: any)', '').option('--gpus <n>', 'at least this many GPUs', integerIn(CreateTemplate.properties.gpuCount), 0)
    .action(async (name: string, o: { tenant: string; image: string; nodes: number; gpuModel: string; gpus: number }) => {
      const client = ctx.client();
      const tenantId = await resolveTenant(client, o.tenant);
      const t = await client.request<Template>('POST', '/api/v1/templates', { name, image: o.image, tenantId, nodeCount: o.nodes, gpuModel: o.gpuModel, gpuCount: o.gpus });
      ctx.print(t, () => `template ${t.name} (${t.id}): ${t.nodeCount} node(s) of ${t.image} for ${o.tenant}; metalfleet templates apply ${t.name}`);
    });
  templates.command('rm').argument('<template>', templateArg).action(async (ref: string) => {
    const id = await resolveTemplate(ctx, ref);
    await ctx.client().request('DELETE', `/api/v1/templates/${encodeURIComponent(id)}`);
    ctx.print({ deleted: id }, () => `template ${ref} (${id}) removed`);
  });
  templates.command('apply').description('top the tenant up to the template\'s size: allocate matching spares and reimage them').argument('<template>', templateArg)
    .option('--wait', 'follow the operation with a progress bar until it ends; exit 5 if any node failed', false)
    .action(async (ref: string, o: { wait: boolean }) => {
      const id = await resolveTemplate(ctx, ref);
      const result = await ctx.client().request<{ operation: Operation | null; allocated: string[]; already: number }>('POST', `/api/v1/templates/${encodeURIComponent(id)}/apply`);
      if (o.wait && result.operation) await waitAndExit(ctx, result.operation.id);
      ctx.print(result, () => (result.operation
        ? `allocated ${result.allocated.join(', ')}; operation ${result.operation.id} reimages them`
        : `the tenant already has its ${result.already} node(s)`));
    });

  const tokens = program.command('bootstrap-tokens').description('tokens a new machine\'s agent registers with (admin)');
  tokens.command('ls').action(async () => {
    const list = await ctx.client().get<BootstrapTokens>('/api/v1/bootstrap-tokens');
    ctx.print(list, () => formatTable(['ID', 'STATE', 'PURPOSE', 'USES', 'EXPIRES', 'DESCRIPTION'],
      list.items.map((t) => [t.id, t.state, t.purpose ?? 'operator', `${t.uses}/${t.maxUses ?? '∞'}`, t.expiresAt, orDash(t.description)])));
  });
  tokens.command('create').description('a token for agents; its secret is printed once')
    .option('--description <text>', 'what it is for, e.g. "rack 12 bring-up"', '')
    .option('--ttl-s <seconds>', 'lifetime', integerIn(CreateBootstrapToken.properties.ttlSeconds), 86_400)
    .option('--max-uses <n>', 'how many registrations it allows (default: unlimited)', integerIn(CreateBootstrapToken.properties.maxUses))
    .action(async (o: { description: string; ttlS: number; maxUses?: number }) => {
      const created = await ctx.client().request<{ id: string; token: string; expiresAt: string }>('POST', '/api/v1/bootstrap-tokens',
        { description: o.description, ttlSeconds: o.ttlS, maxUses: o.maxUses ?? null });
      ctx.print(created, () => `bootstrap token ${created.id}, until ${created.expiresAt} (shown once):\n${created.token}`);
    });
  tokens.command('revoke').argument('<id>').action(async (id: string) => {
    await ctx.client().request('DELETE', `/api/v1/bootstrap-tokens/${encodeURIComponent(id)}`);
    ctx.print({ revoked: id }, () => `bootstrap token ${id} revoked`);
  });
}
