// metalfleet operations ls|show|watch, and the --wait of reimage and apply.
import type { Command } from 'commander';
import type { Static } from 'typebox';
import { FailureRateQuery, type FailureRates, type Operation, type OperationList } from '@metalfleet/api';
import { exitCodes, type CliContext } from '../context.ts';
import { choiceOption } from '../flags.ts';
import { formatTable } from '../table.ts';
import { summarize, watchOperation } from '../watch.ts';

export function operationTable(op: Operation): string {
  const p = op.progress;
  return [
    `Operation: ${op.id} (${op.kind}) ${op.state}`, `Image:     ${op.image}`, `By:        ${op.actor}: ${op.reason}`,
    `Progress:  ${p.done} done, ${p.failed} failed, ${p.inFlight} in flight, ${p.queued} queued of ${p.total}`, '',
    formatTable(['NODE', 'HOSTNAME', 'RACK', 'TENANT', 'PHASE', 'FAILURE', 'MESSAGE'], op.nodes.map((n) => [
      n.nodeId, n.hostname || '-', n.rack, n.tenant ?? '-', n.phase, n.failure ? `${n.failure.code} (in ${n.failure.phase})` : '-', n.failure ? n.failure.details : n.message,
    ])),
  ].join('\n');
}

/** Follows an operation to its end (or Ctrl-C) and exits with what scripts need to know. */
export async function waitAndExit(ctx: CliContext, operationId: string): Promise<never> {
  const result = await watchOperation(ctx.client(), operationId, { quiet: ctx.json() });
  ctx.print(result.operation, () => summarize(result));
  if (result.interrupted) process.exit(exitCodes.interrupted);
  process.exit(result.operation.state === 'succeeded' ? exitCodes.ok : exitCodes.operationFailed);
}

export function registerOperations(program: Command, ctx: CliContext): void {
  const operations = program.command('operations').description('reimage, template and replacement operations');
  operations.command('ls').description('operations, newest first').action(async () => {
    const list = await ctx.client().get<Static<typeof OperationList>>('/api/v1/operations');
    ctx.print(list, () => formatTable(
      ['ID', 'KIND', 'STATE', 'IMAGE', 'CREATED', 'BY', 'REASON'],
      list.items.map((o) => [o.id, o.kind, o.state, o.image, o.createdAt, o.actor, o.reason]),
    ));
  });
  operations.command('show').description('one operation with each node\'s phase').argument('<id>').action(async (id: string) => {
    const op = await ctx.client().get<Operation>(`/api/v1/operations/${encodeURIComponent(id)}`);
    ctx.print(op, () => operationTable(op));
  });
  operations.command('watch').description('follow an operation with a progress bar until it ends (Ctrl-C stops watching, not the operation)')
    .argument('<id>').action(async (id: string) => waitAndExit(ctx, id));

  program.command('failure-rates').description('failure rate (distinct failed nodes / nodes) and MTBF per cohort, highest first')
    .addOption(choiceOption('--window <w>', 'sliding window ending now', FailureRateQuery.properties.window, '24h'))
    .addOption(choiceOption('--by <dimension>', 'cohort dimension', FailureRateQuery.properties.by, 'fleet'))
    .action(async (o: { window: string; by: string }) => {
      const rates = await ctx.client().get<Static<typeof FailureRates>>(`/api/v1/failure-rates?window=${encodeURIComponent(o.window)}&by=${encodeURIComponent(o.by)}`);
      ctx.print(rates, () => formatTable([o.by.toUpperCase(), 'NODES', 'FAILED', 'RATE', 'FAILURES', 'ACCEPTANCE FAILED', 'REPAIRS', 'MTBF (H)'], rates.items.map((r) => [
        r.cohort, String(r.nodes), String(r.failedNodes), `${(r.rate * 100).toFixed(1)}%`, String(r.failures), String(r.acceptanceFailures), String(r.repairs),
        r.mtbfHours === null ? '-' : r.mtbfHours.toFixed(0),
      ])));
    });
}
