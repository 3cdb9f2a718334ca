import { describe, expect, it } from 'vitest';
import { actionsFor, refusal } from './node-actions.ts';
import { nodeStates, type NodeState } from './node.ts';

const spare = (state: NodeState) => ({ id: 'n1', state, tenant: null });
const tenants = (state: NodeState) => ({ id: 'n1', state, tenant: 't1' });

describe('what an operator may do to a node', () => {
  it.each([
    [spare('discovered'), ['power-cycle', 'retire']],
    [spare('inspecting'), ['power-cycle', 'retire']],
    // A node the operator knows is bad, or whose suite hangs, goes to repair without waiting for its verdict.
    [spare('accepting'), ['power-cycle', 'repair', 'retire']],
    [spare('available'), ['power-cycle', 'allocate', 'retire']],
    [tenants('allocated'), ['reimage', 'replace', 'drain', 'power-cycle', 'release']],
    [tenants('provisioning'), ['replace', 'drain', 'power-cycle', 'release']],
    [tenants('active'), ['reimage', 'replace', 'drain', 'power-cycle', 'release']],
    // Accepted after its reimage (--acceptance-after-reimage): replaced if it must not wait for its verdict.
    [tenants('accepting'), ['replace', 'power-cycle']],
    [spare('releasing'), ['power-cycle', 'retire']],
    [spare('failed'), ['power-cycle', 'retry', 'repair', 'retire']],
    // Its failure's effects (replacement pending) take it out of the tenant first: nothing but a power cycle till then.
    [tenants('failed'), ['power-cycle']],
    [tenants('repair'), ['power-cycle']],
    [spare('repair'), ['power-cycle', 'repaired', 'retire']],
    [spare('retired'), []],
  ])('%o: %j', (node, actions) => {
    expect(actionsFor(node)).toEqual(actions);
  });

  it('gives every state but retired a way out', () => {
    for (const state of nodeStates.filter((s) => s !== 'retired')) {
      expect(actionsFor(spare(state)).filter((a) => a !== 'power-cycle').length, state).toBeGreaterThan(0);
    }
  });

  it('names what the state allows when it refuses', () => {
    expect(refusal('retry', spare('failed'))).toBeNull();
    expect(refusal('reimage', spare('failed'))).toBe(
      'reimage is not allowed for node n1 (failed): only nodes allocated to a tenant or active are reimaged; allowed: power-cycle, retry, repair, retire');
    expect(refusal('retry', tenants('failed'))).toBe('retry is not allowed for node n1 (failed, in tenant t1): only a failed node out of its tenant is retried ' +
      '(a tenant\'s node leaves it by a replacement or a release first); allowed: power-cycle');
    expect(refusal('retire', tenants('active'))).toMatch(/^retire is not allowed for node n1 \(active, in tenant t1\): only a node in no tenant is retired \(replace or release a tenant's node first\)/);
    expect(refusal('repaired', spare('retired'))).toBe('repaired is not allowed for node n1 (retired): only a node in repair, out of any tenant, is marked repaired; allowed: nothing (retired is final)');
  });
});
