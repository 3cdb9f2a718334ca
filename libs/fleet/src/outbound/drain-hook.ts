// Draining before a node goes down: the manager POSTs to the site's hook
// (e.g. deploy/slurm/drain-hook.mjs, which runs `scontrol update state=drain`)
// and waits for a 2xx. Without a hook there is nothing to drain.
import { DomainError, type NodeSummary } from '@metalfleet/domain';

export type DrainHook = (node: NodeSummary, reason: string) => Promise<void>;

export function webhookDrain(url: string, timeoutMs: number): DrainHook {
  if (url === '') return async () => undefined;
  return async (node, reason) => {
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ nodeId: node.id, hostname: node.hostname, tenant: node.tenant, rack: node.rack, reason }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new DomainError('unavailable', `drain hook ${url} unreachable: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!response.ok) throw new DomainError('unavailable', `drain hook ${url} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
  };
}
