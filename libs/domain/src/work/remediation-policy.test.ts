import { describe, expect, it } from 'vitest';
import type { HealthCondition, Remediation, Severity } from '../health/health-condition.ts';
import type { NodeState } from '../node.ts';
import { decideRemediation } from './remediation-policy.ts';

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
