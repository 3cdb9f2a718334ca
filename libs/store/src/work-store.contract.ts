// Reimage operations on every FleetStore: one open entry per node, enforced by
// the store itself (racing creations included), and why a node's reimage failed.
import { describe, expect, it } from 'vitest';
import { DomainError, queuedProgress, type ReimageProgress } from '@metalfleet/domain';
import type { StoreFactory } from './fleet-store.contract.ts';
import { FencedOut } from './lease-store.ts';
import type { CommandRecord, OperationNodeRecord, OperationRecord } from './work-store.ts';

const at = new Date('2026-11-01T00:00:00Z');

function operation(id: string, createdAt = at): OperationRecord {
  return { id, kind: 'reimage', state: 'running', image: { name: 'ubuntu', version: '24.04' }, priority: 0, urgent: false, actor: 'test', reason: 'r', createdAt, updatedAt: createdAt };
}

function entries(operationId: string, nodeIds: readonly string[]): OperationNodeRecord[] {
  return nodeIds.map((nodeId, position) => ({ operationId, nodeId, position, rack: 'r1', tenant: null, progress: queuedProgress(), commandId: null, updatedAt: at }));
}

function command(id: string, state: CommandRecord['state'] = 'sent'): CommandRecord {
  return { id, nodeId: 'n1', operationId: null, kind: 'reset-gpu', args: { gpuIndex: 0 }, state, attempts: 1, ackDeadlineAt: at, message: '', verifiedSha256: '', createdAt: at, updatedAt: at };
}

export function describeWorkStore(name: string, factory: StoreFactory): void {
  describe(`replacements owed on ${name}`, () => {
    it('keeps one debt per failed node, oldest first, until one caller takes it', async () => {
      const store = await factory.open('owed');
      const later = new Date(at.getTime() + 1000);
      await store.oweReplacement({ failedNodeId: 'n2', tenantId: 't1', reason: 'xid 79', actor: 'remediation', at: later });
      await store.oweReplacement({ failedNodeId: 'n1', tenantId: 't1', reason: 'offline', actor: 'presence', at });
      await store.oweReplacement({ failedNodeId: 'n1', tenantId: 't1', reason: 'again', actor: 'presence', at: later });
      // The same node failing later in another tenant is another debt.
      await store.oweReplacement({ failedNodeId: 'n1', tenantId: 't2', reason: 'in t2', actor: 'presence', at: later });
      expect(await store.owedReplacements()).toEqual([
        { failedNodeId: 'n1', tenantId: 't1', reason: 'offline', actor: 'presence', at, spareNodeId: '' },
        { failedNodeId: 'n1', tenantId: 't2', reason: 'in t2', actor: 'presence', at: later, spareNodeId: '' },
        { failedNodeId: 'n2', tenantId: 't1', reason: 'xid 79', actor: 'remediation', at: later, spareNodeId: '' },
      ]);
      const staleBefore = new Date(at.getTime() - 60_000);
      const claimed = await Promise.all([store.claimOwedReplacement('n1', 't1', at, staleBefore), store.claimOwedReplacement('n1', 't1', at, staleBefore)]);
      expect(claimed.sort()).toEqual([false, true]);
      // Released (no spare after all): claimable again; a claimer that died: claimable once its claim is stale.
      await store.releaseOwedReplacement('n1', 't1', at);
      expect(await store.claimOwedReplacement('n1', 't1', at, staleBefore)).toBe(true);
      expect(await store.claimOwedReplacement('n1', 't1', later, staleBefore)).toBe(false);
      expect(await store.claimOwedReplacement('n1', 't1', later, new Date(at.getTime() + 1))).toBe(true);
      // The stale claimer can neither note a spare nor let go of the claim now another's; the new claimer can.
      expect(await store.noteOwedSpare('n1', 't1', 's1', at)).toBe(false);
      await store.releaseOwedReplacement('n1', 't1', at);
      expect(await store.claimOwedReplacement('n1', 't1', later, staleBefore)).toBe(false);
      expect(await store.noteOwedSpare('n1', 't1', 's1', later)).toBe(true);
      // One spare is one debt's: another debt cannot note it until it is taken back.
      expect(await store.claimOwedReplacement('n2', 't1', at, staleBefore)).toBe(true);
      expect(await store.noteOwedSpare('n2', 't1', 's1', at)).toBe(false);
      expect((await store.owedReplacements()).map((o) => o.spareNodeId)).toEqual(['s1', '', '']);
      expect(await store.noteOwedSpare('n1', 't1', '', later)).toBe(true);
      expect(await store.noteOwedSpare('n2', 't1', 's1', at)).toBe(true);
      expect((await store.owedReplacements()).map((o) => o.spareNodeId)).toEqual(['', '', 's1']);
      await store.noteOwedSpare('n2', 't1', '', at);
      await store.settleOwedReplacement('n1', 't1');
      expect((await store.owedReplacements()).map((o) => `${o.failedNodeId}/${o.tenantId}`)).toEqual(['n1/t2', 'n2/t1']);
      await store.close();
    });
  });

  describe(`a command replacing older ones on ${name}`, () => {
    it('gives up the older ones and is written sent; or, when one was claimed first, is written expired naming it, and the claim stands', async () => {
      const store = await factory.open('cmd_replace');
      await store.createCommand(command('a'));
      expect(await store.createCommandReplacing(command('b'), ['a'], ['a'])).toBe('sent');
      expect(await store.getCommand('a')).toMatchObject({ state: 'expired', message: 'superseded by command b; withdrawn' });
      // The agent's claim of a given-up command finds it expired.
      expect(await store.updateCommand('a', ['pending', 'sent'], { state: 'acked' }, at)).toBe(false);
      expect(await store.updateCommand('b', ['pending', 'sent'], { state: 'acked' }, at)).toBe(true);
      expect(await store.createCommandReplacing(command('c'), ['b'], ['b'])).toBe('expired');
      expect(await store.getCommand('b')).toMatchObject({ state: 'acked' });
      expect(await store.getCommand('c')).toMatchObject({ state: 'expired', message: 'not sent: command b, which does the same, was claimed by the agent first; it runs instead' });
      expect(await store.createCommandReplacing(command('d'), [], [])).toBe('sent');
      await store.close();
    });
  });

  describe(`reimage operations on ${name}`, () => {
    it('lets only one of two racing operations hold a node, and writes nothing of the other', async () => {
      const store = await factory.open('op_race');
      for (let round = 0; round < 5; round += 1) {
        const results = await Promise.allSettled([
          store.createOperation(operation(`a${round}`), entries(`a${round}`, [`x${round}`, `n${round}`])),
          store.createOperation(operation(`b${round}`), entries(`b${round}`, [`n${round}`, `y${round}`])),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const refused = results.find((r) => r.status === 'rejected');
        expect(refused?.reason).toBeInstanceOf(DomainError);
        expect(refused?.reason).toMatchObject({ code: 'conflict', details: { nodeIds: [`n${round}`] } });
        const winner = results[0]?.status === 'fulfilled' ? `a${round}` : `b${round}`;
        const loser = winner === `a${round}` ? `b${round}` : `a${round}`;
        expect(await store.getOperation(loser)).toBeNull();
        expect(await store.operationNodes(loser)).toEqual([]);
        expect((await store.openOperationNodes()).filter((n) => n.nodeId === `n${round}`).map((n) => n.operationId)).toEqual([winner]);
      }
      await store.close();
    });

    it('frees a node once its entry ended, and keeps why a node failed', async () => {
      const store = await factory.open('op_free');
      await store.createOperation(operation('first'), entries('first', ['n1', 'n2']));
      await expect(store.createOperation(operation('second'), entries('second', ['n1']))).rejects.toMatchObject({ code: 'conflict' });
      const failed: ReimageProgress = {
        ...queuedProgress(), phase: 'failed', message: 'draining: drain hook answered 503', failure: { code: 'drain-failed', phase: 'draining', details: 'drain hook answered 503' },
      };
      await store.saveOperationNode('first', 'n1', failed, null, at);
      await store.createOperation(operation('second'), entries('second', ['n1']));
      expect((await store.operationNodes('first'))[0]?.progress).toEqual(failed);
      expect((await store.operationNodes('second'))[0]?.progress.failure).toBeNull();
      await store.close();
    });

    it('writes a fenced step only while its lease holds: a replica whose lease another took writes nothing', async () => {
      const store = await factory.open('op_fence');
      await store.createOperation(operation('fenced'), entries('fenced', ['n1']));
      const epoch = await store.claimLease('singleton/node-loops', 'a', 150);
      const fence = { lease: 'singleton/node-loops', holder: 'a', epoch: epoch ?? 0 };
      const draining: ReimageProgress = { ...queuedProgress(), phase: 'draining', message: 'draining' };
      await store.saveOperationNode('fenced', 'n1', draining, null, at, fence);
      // a is paused past its lease; b takes it (a newer epoch) and moves the node on.
      for (;;) {
        if ((await store.listLeases()).some((l) => l.name === fence.lease && !l.live)) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      const taken = await store.claimLease('singleton/node-loops', 'b', 60_000);
      const isolating: ReimageProgress = { ...queuedProgress(), phase: 'isolating', message: 'b moved it' };
      await store.saveOperationNode('fenced', 'n1', isolating, null, at, { lease: fence.lease, holder: 'b', epoch: taken ?? 0 });
      // a wakes up and writes the step it had under way: refused, and b's step stands.
      const stale = await store.saveOperationNode('fenced', 'n1', { ...draining, message: 'a, late' }, null, at, fence).then(() => null, (error: unknown) => error);
      expect(stale).toBeInstanceOf(FencedOut);
      expect((await store.operationNodes('fenced'))[0]?.progress.message).toBe('b moved it');
      await store.close();
    });

    it('lists every running operation whose nodes have all ended, however old', async () => {
      const store = await factory.open('op_finish');
      await store.createOperation(operation('old', new Date(at.getTime() - 86_400_000)), entries('old', ['n1']));
      await store.createOperation(operation('busy'), entries('busy', ['n2']));
      await store.saveOperationNode('old', 'n1', { ...queuedProgress(), phase: 'done', message: 'reimaged' }, null, at);
      expect((await store.operationsToFinish()).map((o) => o.id)).toEqual(['old']);
      await store.finishOperation('old', 'succeeded', at);
      expect(await store.operationsToFinish()).toEqual([]);
      await store.close();
    });
  });
}
