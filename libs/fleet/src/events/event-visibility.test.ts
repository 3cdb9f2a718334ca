// Who sees what of each event type on a tenant-scoped stream: table-driven,
// one row per decision that matters (own, foreign, mixed, fleet-only).
import { describe, expect, it } from 'vitest';
import { eventForTenant, type EventLookups } from './event-visibility.ts';
import type { FleetEvent } from './fleet-events.ts';

const at = new Date('2026-11-27T10:00:00Z');
const tenantOf: Record<string, string | null> = { mine: 'a', theirs: 'b', spare: null, given: 'a' };
/** `given` was allocated to a after the events (it was b's before). */
const allocated: Record<string, Date> = { mine: new Date(at.getTime() - 3600_000), theirs: new Date(at.getTime() - 3600_000), given: new Date(at.getTime() + 60_000) };
const lookups: EventLookups = {
  nodeTenant: async (nodeId) => (nodeId in tenantOf ? tenantOf[nodeId] : undefined),
  allocatedSince: async (nodeId) => allocated[nodeId] ?? null,
  operationEntries: async (operationId) => (operationId === 'op-mixed'
    ? [{ nodeId: 'mine', tenant: 'a', phase: 'done' }, { nodeId: 'theirs', tenant: 'b', phase: 'failed' }]
    : [{ nodeId: 'theirs', tenant: 'b', phase: 'done' }]),
};

const rows: Array<[string, FleetEvent, FleetEvent | null | 'same']> = [
  ['its own node', { type: 'presence-changed', nodeId: 'mine', presence: 'online', reason: '', at }, 'same'],
  ['another tenant\'s node', { type: 'presence-changed', nodeId: 'theirs', presence: 'online', reason: '', at }, null],
  ['its node, from before it was its', { type: 'health-changed', nodeId: 'given', eventId: 'e', changes: [], at }, null],
  ['its node, from the moment it was its', { type: 'health-changed', nodeId: 'given', eventId: 'e', changes: [], at: allocated['given']! }, 'same'],
  ['a spare', { type: 'health-digest', nodeId: 'spare', conditions: 0, at }, null],
  ['a node that is gone', { type: 'failure-recorded', nodeId: 'gone', kind: 'critical-condition', code: 'x', at }, null],
  ['a conflict between its node and another\'s', { type: 'identity-conflict', conflictId: '1', kind: 'mismatch', nodeIds: ['mine', 'theirs'], reason: '', at }, null],
  ['a conflict among its own nodes', { type: 'identity-conflict', conflictId: '2', kind: 'mismatch', nodeIds: ['mine'], reason: '', at }, 'same'],
  ['its entry of a mixed operation', { type: 'operation-progress', operationId: 'op-mixed', nodeId: 'mine', phase: 'draining', message: '', at }, 'same'],
  ['the other entry of a mixed operation', { type: 'operation-progress', operationId: 'op-mixed', nodeId: 'theirs', phase: 'draining', message: '', at }, null],
  ['a command of the other entry', { type: 'command-progress', commandId: 'c', nodeId: 'theirs', operationId: 'op-mixed', phase: 'failed', message: '', verifiedSha256: '', at }, null],
  ['a mixed operation created: counted over its own entries', { type: 'operation-created', operationId: 'op-mixed', kind: 'reimage', nodes: 2, reason: 'r', at },
    { type: 'operation-created', operationId: 'op-mixed', kind: 'reimage', nodes: 1, reason: 'r', at }],
  ['a mixed operation finished: its own outcome', { type: 'operation-finished', operationId: 'op-mixed', state: 'failed', done: 1, failed: 1, at },
    { type: 'operation-finished', operationId: 'op-mixed', state: 'succeeded', done: 1, failed: 0, at }],
  ['an operation on others only', { type: 'operation-created', operationId: 'op-other', kind: 'reimage', nodes: 1, reason: 'r', at }, null],
  ['its node moved in from another tenant', { type: 'node-tenant-changed', nodeId: 'mine', tenantId: 'a', previous: 'b', at },
    { type: 'node-tenant-changed', nodeId: 'mine', tenantId: 'a', previous: null, at }],
  ['its node released', { type: 'node-tenant-changed', nodeId: 'spare', tenantId: null, previous: 'a', at }, 'same'],
  ['another tenant made', { type: 'tenant-created', tenantId: 'b', name: 'b', vlan: 1, vni: 1, at }, null],
  ['its alert', { type: 'alert-changed', fingerprint: 'f', rule: 'r', severity: 'warning', from: null, to: 'firing', summary: '', tenantId: 'a', at }, 'same'],
  ['a fleet alert', { type: 'alert-changed', fingerprint: 'f', rule: 'r', severity: 'warning', from: null, to: 'firing', summary: '', tenantId: null, at }, null],
  ['a cabling warning about its node', { type: 'cabling-warning', nodeId: 'mine', mac: 'm', message: 'port claimed by theirs', at }, null],
  ['a boot script for an unknown machine', { type: 'boot-script-served', nodeId: null, mac: 'm', commandId: null, purpose: 'discovery', peer: 'p', at }, null],
];

describe('eventForTenant (tenant a)', () => {
  it.each(rows)('%s', async (_name, event, expected) => {
    expect(await eventForTenant(event, 'a', lookups)).toEqual(expected === 'same' ? event : expected);
  });

  it('denies an event type nobody decided yet', async () => {
    expect(await eventForTenant({ type: 'something-new', nodeId: 'mine', at } as unknown as FleetEvent, 'a', lookups)).toBeNull();
  });
});
