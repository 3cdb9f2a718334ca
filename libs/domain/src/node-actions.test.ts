import { describe, expect, it } from 'vitest';
import { actionsFor, refusal } from './node-actions.ts';
import { nodeStates, type NodeState } from './node.ts';

const spare = (state: NodeState) => ({ id: 'n1', state, tenant: null });
const tenants = (state: NodeState) => ({ id: 'n1', state, tenant: 't1' });

describe('what an operator may do to a node', () => {
  it.each([
    [spare('discovered'), ['power-cycle', 'retire']],
    [spare('inspecting'), ['power-cycle', 'retire']],
    [spare('available'), ['power-cycle', 'allocate', 'retire']],
    [tenants('allocated'), ['reimage', 'replace', 'drain', 'power-cycle', 'release', 'retire']],
    [tenants('provisioning'), ['replace', 'drain', 'power-cycle', 'release', 'retire']],
    [tenants('active'), ['reimage', 'replace', 'drain', 'power-cycle', 'release', 'retire']],
    [spare('releasing'), ['power-cycle', 'retire']],
    [spare('failed'), ['power-cycle', 'retry', 'repair', 'retire']],
    [tenants('failed'), ['power-cycle', 'repair', 'retire']],
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
    expect(refusal('retry', tenants('failed'))).toBe(
      'retry is not allowed for node n1 (failed, in tenant t1): only a failed node out of its tenant is retried; allowed: power-cycle, repair, retire');
    expect(refusal('repaired', spare('retired'))).toBe('repaired is not allowed for node n1 (retired): only nodes in repair are marked repaired; allowed: nothing (retired is final)');
  });
});
