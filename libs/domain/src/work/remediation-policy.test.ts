import { describe, expect, it } from 'vitest';
import type { HealthCondition, Remediation, Severity } from '../health/health-condition.ts';
import type { NodeState } from '../node.ts';
import { decideRemediation, recurringConditions, type FaultHistory } from './remediation-policy.ts';

const since = new Date('2026-11-21T00:00:00Z');
const c = (code: string, severity: Severity, remediation: Remediation, component = 'gpu:0000:9b:00'): HealthCondition =>
  ({ component, code, severity, remediation, message: code, since });

describe('decideRemediation', () => {
  it.each<{ name: string; state: NodeState; tenant: string | null; conditions: HealthCondition[]; action: string }>([
    { name: 'healthy', state: 'active', tenant: 't', conditions: [], action: 'none' },
    { name: 'warnings only', state: 'active', tenant: 't', conditions: [c('thermal', 'warning', 'reboot')], action: 'none' },
    { name: 'Xid 79 on a tenant node', state: 'active', tenant: 't', conditions: [c('xid-79', 'critical', 'replace')], action: 'replace' },
    { name: 'Xid 79 while provisioning for a tenant', state: 'provisioning', tenant: 't', conditions: [c('xid-79', 'critical', 'replace')], action: 'replace' },
    { name: 'Xid 79 on a spare', state: 'available', tenant: null, conditions: [c('xid-79', 'critical', 'replace')], action: 'repair' },
    { name: 'a hardware fault during acceptance testing', state: 'accepting', tenant: null, conditions: [c('xid-79', 'critical', 'replace')], action: 'repair' },
    { name: 'Xid 79 on a node already failed', state: 'failed', tenant: null, conditions: [c('xid-79', 'critical', 'replace')], action: 'none' },
    { name: 'GSP timeout', state: 'active', tenant: 't', conditions: [c('xid-119', 'critical', 'reset-gpu')], action: 'reset-gpu' },
    // A GPU that needs a power cycle takes the node down: the tenant gets a spare at once.
    { name: 'Xid 79 as the catalog has it (reboot)', state: 'active', tenant: 't', conditions: [c('xid-79', 'critical', 'reboot')], action: 'replace' },
    { name: 'reboot beats reset', state: 'active', tenant: 't', conditions: [c('xid-119', 'critical', 'reset-gpu'), c('xid-62', 'critical', 'reboot')], action: 'replace' },
    { name: 'reboot-level fault on a spare', state: 'available', tenant: null, conditions: [c('xid-62', 'critical', 'reboot')], action: 'repair' },
    { name: 'reimage', state: 'active', tenant: 't', conditions: [c('driver', 'critical', 'reimage', 'node')], action: 'reimage' },
    { name: 'replace beats software', state: 'active', tenant: 't', conditions: [c('xid-62', 'critical', 'reboot'), c('xid-79', 'critical', 'replace')], action: 'replace' },
    { name: 'software fault on a spare waits', state: 'available', tenant: null, conditions: [c('xid-119', 'critical', 'reset-gpu')], action: 'none' },
    { name: 'critical without a remedy', state: 'active', tenant: 't', conditions: [c('odd', 'critical', 'none')], action: 'none' },
  ])('$name → $action', ({ state, tenant, conditions, action }) => {
    expect(decideRemediation({ state, tenant }, conditions).action).toBe(action);
  });

  it('names the condition that decided, and the GPU to reset', () => {
    const decision = decideRemediation({ state: 'active', tenant: 't' }, [c('xid-119', 'critical', 'reset-gpu', 'gpu:0000:1b:00')]);
    expect(decision).toEqual({ action: 'reset-gpu', gpuComponent: 'gpu:0000:1b:00', reason: 'gpu:0000:1b:00 xid-119: xid-119' });
  });
});

describe('repeat faults escalate', () => {
  const day = 86_400_000;
  const before = (days: number) => new Date(since.getTime() - days * day);
  const gsp = c('xid-119', 'critical', 'reset-gpu');
  it.each<{ name: string; history: FaultHistory; state: NodeState; tenant: string | null; action: string }>([
    { name: 'the same fault after a reimage: the tenant node is replaced', history: { failures: [{ code: 'xid-119', at: before(3) }], resets: [{ at: before(2), kind: 'reimaged' }] }, state: 'active', tenant: 't', action: 'replace' },
    { name: 'the same fault after a repair, on a spare: back to repair', history: { failures: [{ code: 'xid-119', at: before(3) }], resets: [{ at: before(1), kind: 'repaired' }] }, state: 'available', tenant: null, action: 'repair' },
    { name: 'seen before, but no reset since: the software remedy again', history: { failures: [{ code: 'xid-119', at: before(3) }], resets: [] }, state: 'active', tenant: 't', action: 'reset-gpu' },
    { name: 'a different fault before the reimage is not a repeat', history: { failures: [{ code: 'xid-13', at: before(3) }], resets: [{ at: before(2), kind: 'reimaged' }] }, state: 'active', tenant: 't', action: 'reset-gpu' },
    { name: 'a reset after the fault appeared does not count', history: { failures: [{ code: 'xid-119', at: before(3) }], resets: [{ at: new Date(since.getTime() + 1000), kind: 'reimaged' }] }, state: 'active', tenant: 't', action: 'reset-gpu' },
  ])('$name', ({ history, state, tenant, action }) => {
    expect(decideRemediation({ state, tenant }, [gsp], history).action).toBe(action);
  });

  it('says what came back after what', () => {
    const decision = decideRemediation({ state: 'active', tenant: 't' }, [gsp], { failures: [{ code: 'xid-119', at: before(3) }], resets: [{ at: before(2), kind: 'reimaged' }] });
    expect(decision.reason).toBe('gpu:0000:9b:00 xid-119: xid-119; came back after the node was reimaged at 2026-11-19T00:00:00.000Z: escalated to repair');
    expect(recurringConditions([gsp], { failures: [{ code: 'xid-119', at: before(3) }], resets: [{ at: before(2), kind: 'reimaged' }, { at: before(1), kind: 'repaired' }] }))
      .toEqual([{ condition: gsp, after: { at: before(1), kind: 'repaired' } }]);
  });
});
