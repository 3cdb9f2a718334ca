// metalfleet conflicts and admissions: who may join the fleet.
import type { Command } from 'commander';
import type { AdmissionList, IdentityConflict, IdentityConflictList } from '@metalfleet/api';
import type { CliContext } from '../context.ts';
import { formatTable } from '../table.ts';

export function registerIdentity(program: Command, ctx: CliContext): void {
  const conflicts = program.command('conflicts').description('identity conflicts, re-enrolments (wiped disks) and shared credentials (two agents with one) waiting for an operator');
  conflicts.command('ls').option('--all', 'also the resolved ones', false).action(async (o: { all: boolean }) => {
    const list = await ctx.client().get<IdentityConflictList>(`/api/v1/identity-conflicts${o.all ? '' : '?status=open'}`);
    ctx.print(list, () => formatTable(['ID', 'KIND', 'STATUS', 'NODES', 'ATTEMPTS', 'FROM', 'REASON'],
      list.items.map((c) => [c.id, c.kind, c.status, c.nodeIds.join(','), String(c.attempts), c.enrolledPeer ?? (c.lastPeer || '-'), c.reason])));
  });
  conflicts.command('approve').description('the machine is this node: its next registration gets the node\'s id and a fresh credential')
    .argument('<id>').option('--node <nodeId>', 'the node it is (when the conflict names several)')
    .action(async (id: string, o: { node?: string }) => {
      const c = await ctx.client().request<IdentityConflict>('POST', `/api/v1/identity-conflicts/${encodeURIComponent(id)}/approve`, o.node ? { nodeId: o.node } : {});
      ctx.print(c, () => `conflict ${c.id} approved as node ${c.resolvedNodeId ?? '?'}; its next registration enrols it`);
    });
  conflicts.command('reject').description('the machine gets nothing and stays refused (a shared credential: closed, once the second agent is stopped)').argument('<id>').action(async (id: string) => {
    const c = await ctx.client().request<IdentityConflict>('POST', `/api/v1/identity-conflicts/${encodeURIComponent(id)}/reject`);
    ctx.print(c, () => (c.kind === 'shared-credential' ? `conflict ${c.id} closed; if two agents still share node ${c.nodeIds.join(', ')}'s credential, a new one opens` : `conflict ${c.id} rejected`));
  });

  const admissions = program.command('admissions').description('machines discovered through the boot endpoint, waiting to be admitted before they serve');
  admissions.command('ls').option('--all', 'also the admitted ones', false).action(async (o: { all: boolean }) => {
    const list = await ctx.client().get<AdmissionList>(`/api/v1/admissions${o.all ? '' : '?state=pending'}`);
    ctx.print(list, () => formatTable(['NODE', 'STATE', 'VIA', 'BY', 'AT'], list.items.map((a) => [a.nodeId, a.state, a.via, a.actor, a.at])));
  });
  admissions.command('admit').description('let a discovered node be a spare or serve a tenant').argument('<node>').action(async (node: string) => {
    const a = await ctx.client().request('POST', `/api/v1/nodes/${encodeURIComponent(node)}/admit`);
    ctx.print(a, () => `node ${node} admitted`);
  });
}
