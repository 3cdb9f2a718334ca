// Following an operation: a live progress bar fed by the event stream (the
// operation is re-read on each of its events, so nothing is counted twice),
// a summary at the end, and Ctrl-C stops watching, not the operation.
import { setTimeout as sleep } from 'node:timers/promises';
import cliProgress from 'cli-progress';
import type { Operation } from '@metalfleet/api';
import type { ApiClient } from './api-client.ts';

const resyncMs = 5000;

export interface WatchResult {
  operation: Operation;
  /** The user stopped watching; the operation goes on. */
  interrupted: boolean;
}

export async function watchOperation(client: ApiClient, id: string, options: { quiet: boolean }): Promise<WatchResult> {
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  process.once('SIGINT', onInterrupt);
  const bar = options.quiet ? null : new cliProgress.SingleBar({
    format: 'operation {id} |{bar}| {value}/{total} finished: {done} done, {failed} failed; {inFlight} in flight, {queued} queued',
    hideCursor: true, noTTYOutput: true, notTTYSchedule: 2000, stream: process.stderr,
  }, cliProgress.Presets.shades_classic);
  const read = () => client.get<Operation>(`/api/v1/operations/${encodeURIComponent(id)}`);
  const show = (op: Operation) => {
    const values = { id: op.id, done: op.progress.done, failed: op.progress.failed, inFlight: op.progress.inFlight, queued: op.progress.queued };
    bar?.setTotal(op.progress.total);
    bar?.update(op.progress.done + op.progress.failed, values);
  };
  let operation = await read();
  bar?.start(operation.progress.total, 0, { id: operation.id, done: 0, failed: 0, inFlight: 0, queued: operation.progress.total });
  show(operation);
  try {
    const stream = client.events(stop.signal);
    let pending = stream.next();
    // Read again once subscribed; and every few seconds, in case an event fell between the read and the subscription.
    operation = await read();
    show(operation);
    while (operation.state === 'running' && !stop.signal.aborted) {
      const next = await Promise.race([pending, sleep(resyncMs).then(() => 'resync' as const)]);
      if (next !== 'resync') {
        if (next.done) break;
        pending = stream.next();
        if (!next.value.type.startsWith('operation-') || next.value.data['operationId'] !== id) continue;
      }
      operation = await read();
      show(operation);
    }
    stop.abort();
    return { operation, interrupted: operation.state === 'running' };
  } finally {
    process.off('SIGINT', onInterrupt);
    bar?.stop();
  }
}

/** One line for the end of a watch. */
export function summarize(result: WatchResult): string {
  const { operation: op } = result;
  if (result.interrupted) return `stopped watching operation ${op.id}; it goes on (${op.progress.done}/${op.progress.total} done). metalfleet operations watch ${op.id}`;
  const failed = op.nodes.filter((n) => n.phase === 'failed').map((n) => `  ${n.nodeId}: ${n.message}`);
  return [`operation ${op.id} ${op.state}: ${op.progress.done} done, ${op.progress.failed} failed of ${op.progress.total}`, ...failed].join('\n');
}
