// metalfleet nodes retry|repair|repaired|retire: the ways out of failed and
// repair. Each exits non-zero when the manager refuses it (it names what the
// node's state allows), so a script never takes "nothing happened" for done.
// metalfleet nodes evidence: the node's bundle for its vendor's ticket.
// metalfleet nodes acceptance: what its acceptance suites measured and why it passed or failed.
import { link, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { Static } from 'typebox';
import type { AcceptanceRunList, NodeActionResult } from '@metalfleet/api';
import type { CliContext } from '../context.ts';
import { nodeArg, resolveNode } from '../resolve.ts';
import { formatTable } from '../table.ts';

const actions = [
  { name: 'retry', description: 'inspect a failed node again (it left its tenant when it failed): it rejoins the pool when healthy', reason: 'why it should serve again' },
  { name: 'repair', description: 'send a failed node to repair: out of the pool until marked repaired', reason: 'what is wrong' },
  { name: 'repaired', description: 'mark a node in repair repaired: inspected again before it serves', reason: 'what was done (parts swapped, firmware)' },
  { name: 'retire', description: 'retire a node for good: off every tenant network and powered off (final)', reason: 'why' },
] as const;

export function registerNodeLifecycle(nodes: Command, ctx: CliContext): void {
  for (const action of actions) {
    const command = nodes.command(action.name).description(action.description).argument('<node>', nodeArg)
      .requiredOption('--reason <text>', `${action.reason} (kept in the node's history and the audit log)`);
    if (action.name === 'repair' || action.name === 'repaired') command.option('--ticket <id>', 'the repair or RMA ticket');
    command.action(async (ref: string, options: { reason: string; ticket?: string }) => {
      const id = await resolveNode(ctx.client(), ref);
      const result = await ctx.client().request<NodeActionResult>('POST', `/api/v1/nodes/${encodeURIComponent(id)}/${action.name}`,
        { reason: options.reason, ...(options.ticket ? { ticket: options.ticket } : {}) });
      ctx.print(result, () => `${id}: ${result.from} → ${result.to}${result.actions.length > 0 ? `; now allowed: ${result.actions.join(', ')}` : ''}`);
    });
  }

  nodes.command('acceptance').description('the node\'s acceptance runs, newest first: each check with what was measured, the threshold and the verdict')
    .argument('<node>', nodeArg).option('--all', 'every run kept, not only the latest')
    .action(async (ref: string, options: { all?: boolean }) => {
      const id = await resolveNode(ctx.client(), ref);
      const runs = await ctx.client().get<Static<typeof AcceptanceRunList>>(`/api/v1/nodes/${encodeURIComponent(id)}/acceptance`);
      const shown = options.all ? runs.items : runs.items.slice(0, 1);
      ctx.print(runs, () => (shown.length === 0 ? `${id}: no acceptance run yet` : shown.map((r) => [
        `${r.at}  ${r.passed ? 'PASSED' : 'FAILED'}  profile ${r.profile ?? '(none matches)'}  command ${r.commandId}`,
        formatTable(['CHECK', 'MEASURED', 'THRESHOLD', 'VERDICT'], r.checks.map((c) => [c.name, c.measured, c.threshold, c.verdict])),
      ].join('\n')).join('\n\n')));
    });

  nodes.command('evidence').description('the node\'s evidence for its vendor (RMA): parts with serials and firmware, conditions, health events, failures, history')
    .argument('<node>', nodeArg).option('-o, --output <file>', 'where to write the .tar.gz (never overwritten)', '')
    .action(async (ref: string, options: { output: string }) => {
      const id = await resolveNode(ctx.client(), ref);
      const file = options.output || `evidence-${id.replace(/[^A-Za-z0-9._-]/g, '_')}.tar.gz`;
      const bundle = await ctx.client().download(`/api/v1/nodes/${encodeURIComponent(id)}/evidence`, 'application/gzip');
      if (bundle[0] !== 0x1f || bundle[1] !== 0x8b) throw new Error('the manager\'s answer is not a gzip file; nothing written');
      await writeOnce(file, bundle);
      ctx.print({ nodeId: id, file, bytes: bundle.length }, () => `${id}: evidence written to ${file} (${bundle.length} bytes)`);
    });
}

/**
 * Writes `file` whole or not at all, never over an earlier one (a bundle already attached to a ticket): written beside it
 * under a temporary name, then linked to its name (which fails if it exists), so an interrupted download leaves no
 * half file that would block the next try.
 */
async function writeOnce(file: string, bytes: Buffer): Promise<void> {
  const temporary = `${file}.${randomBytes(4).toString('hex')}.partial`;
  await writeFile(temporary, bytes, { flag: 'wx' });
  try {
    await link(temporary, file);
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') throw new Error(`${file} exists: choose another --output (a bundle is never overwritten)`);
    throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}
