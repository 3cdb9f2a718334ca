// metalfleet nodes retry|repair|repaired|retire: the ways out of failed and
// repair. Each exits non-zero when the manager refuses it (it names what the
// node's state allows), so a script never takes "nothing happened" for done.
// metalfleet nodes evidence: the node's bundle for its vendor's ticket.
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { NodeActionResult } from '@metalfleet/api';
import type { CliContext } from '../context.ts';

const actions = [
  { name: 'retry', description: 'inspect a failed node again (it left its tenant when it failed): it rejoins the pool when healthy', reason: 'why it should serve again' },
  { name: 'repair', description: 'send a failed node to repair: out of the pool until marked repaired', reason: 'what is wrong' },
  { name: 'repaired', description: 'mark a node in repair repaired: inspected again before it serves', reason: 'what was done (parts swapped, firmware)' },
  { name: 'retire', description: 'retire a node for good: off every tenant network and powered off (final)', reason: 'why' },
] as const;

export function registerNodeLifecycle(nodes: Command, ctx: CliContext): void {
  for (const action of actions) {
    const command = nodes.command(action.name).description(action.description).argument('<id>', 'node id')
      .requiredOption('--reason <text>', `${action.reason} (kept in the node's history and the audit log)`);
    if (action.name === 'repair' || action.name === 'repaired') command.option('--ticket <id>', 'the repair or RMA ticket');
    command.action(async (id: string, options: { reason: string; ticket?: string }) => {
      const result = await ctx.client().request<NodeActionResult>('POST', `/api/v1/nodes/${encodeURIComponent(id)}/${action.name}`,
        { reason: options.reason, ...(options.ticket ? { ticket: options.ticket } : {}) });
      ctx.print(result, () => `${id}: ${result.from} → ${result.to}${result.actions.length > 0 ? `; now allowed: ${result.actions.join(', ')}` : ''}`);
    });
  }

  nodes.command('evidence').description('the node\'s evidence for its vendor (RMA): parts with serials and firmware, conditions, health events, failures, history')
    .argument('<id>', 'node id').option('-o, --output <file>', 'where to write the .tar.gz (never overwritten)', '')
    .action(async (id: string, options: { output: string }) => {
      const file = options.output || `evidence-${id.replace(/[^A-Za-z0-9._-]/g, '_')}.tar.gz`;
      const bundle = await ctx.client().download(`/api/v1/nodes/${encodeURIComponent(id)}/evidence`);
      // 'wx': an earlier bundle (one already attached to a ticket, say) is kept; the error says so.
      await writeFile(file, bundle, { flag: 'wx' }).catch((error: unknown) => {
        if ((error as { code?: string }).code === 'EEXIST') throw new Error(`${file} exists: choose another --output (a bundle is never overwritten)`);
        throw error;
      });
      ctx.print({ nodeId: id, file, bytes: bundle.length }, () => `${id}: evidence written to ${file} (${bundle.length} bytes)`);
    });
}
