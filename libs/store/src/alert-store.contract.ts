// The alerting part of the repository contract, run on every FleetStore implementation.
import { describe, expect, it } from 'vitest';
import type { Alert, HealthCondition } from '@metalfleet/domain';
import { newNode, type StoreFactory } from './fleet-store.contract.ts';

const at = new Date('2026-11-22T10:00:00Z');
const alert = (fingerprint: string, state: Alert['state']): Alert => ({
  fingerprint, rule: 'pool', severity: 'critical', labels: { alertname: 'pool', cohort: fingerprint }, summary: `pool ${fingerprint}: 2 of 10`, nodes: ['n1', 'n2'],
  conditions: ['xid-79'], value: 0.2, state, activeSince: at, firingSince: state === 'pending' ? null : at, resolvedAt: state === 'resolved' ? at : null, notified: { hook: 'firing' },
});

export function describeAlertStore(name: string, factory: StoreFactory): void {
  describe(`AlertStore on ${name}`, () => {
    it('keeps API rules by unique name, and alerts and silences across a restart', async () => {
      const first = await factory.open('alerts');
      await first.createAlertRule({ spec: { name: 'rack-rate', kind: 'failure-rate', by: 'rack', threshold: 0.2 }, createdAt: at, createdBy: 'api admin' });
      await expect(first.createAlertRule({ spec: { name: 'rack-rate', kind: 'nodes-offline' }, createdAt: at, createdBy: 'x' })).rejects.toMatchObject({ code: 'conflict' });
      await first.saveAlerts([alert('a', 'firing'), alert('b', 'pending')], []);
      await first.saveAlerts([alert('a', 'resolved')], ['b']);
      const silence = { id: 's1', matchers: [{ label: 'rack', value: 'r12' }], startsAt: at, endsAt: new Date(at.getTime() + 3_600_000), createdBy: 'api ops', comment: 'maintenance' };
      await first.createSilence(silence);
      await first.close();

      const store = await factory.open('alerts');
      expect(await store.listAlertRules()).toEqual([{ spec: { name: 'rack-rate', kind: 'failure-rate', by: 'rack', threshold: 0.2 }, createdAt: at, createdBy: 'api admin' }]);
      expect(await store.loadAlerts()).toEqual([alert('a', 'resolved')]);
      expect(await store.listSilences()).toEqual([silence]);
      expect(await store.expireSilence('s1', new Date(at.getTime() + 60_000))).toBe(true);
      expect((await store.listSilences())[0]?.endsAt).toEqual(new Date(at.getTime() + 60_000));
      expect(await store.expireSilence('nope', at)).toBe(false);
      expect(await store.deleteAlertRule('rack-rate')).toBe(true);
      expect(await store.deleteAlertRule('rack-rate')).toBe(false);
      await store.close();
    });

    it('reads XID reports from health events across nodes by arrival, leaving out clears and other codes', async () => {
      const store = await factory.open('xid_reports');
      await store.createNode(newNode('n1', { systemUuid: 'u-x1' }));
      await store.createNode(newNode('n2', { systemUuid: 'u-x2' }));
      const xid: HealthCondition = { component: 'gpu:0000:9b:00', code: 'xid-13', severity: 'warning', remediation: 'none', message: 'Xid 13', since: at };
      const ecc: HealthCondition = { ...xid, code: 'ecc-sbe-rate' };
      const event = (eventId: string, seconds: number, changes: Array<{ kind: 'appeared' | 'changed' | 'cleared'; condition: HealthCondition }>) =>
        ({ eventId, sequence: seconds, at, receivedAt: new Date(at.getTime() + seconds * 1000), changes });
      await store.applyHealthEvent('n1', event('e1', 1, [{ kind: 'appeared', condition: xid }, { kind: 'appeared', condition: ecc }]));
      await store.applyHealthEvent('n1', event('e2', 2, [{ kind: 'changed', condition: { ...xid, message: 'Xid 13 (2 times)' } }]));
      await store.applyHealthEvent('n1', event('e3', 3, [{ kind: 'cleared', condition: xid }]));
      await store.applyHealthEvent('n2', event('e4', 4, [{ kind: 'appeared', condition: { ...xid, code: 'xid-79' } }]));
      expect(await store.xidReportsSince(new Date(at.getTime() + 1000))).toEqual([
        { nodeId: 'n1', at: new Date(at.getTime() + 2000), code: 'xid-13' },
        { nodeId: 'n2', at: new Date(at.getTime() + 4000), code: 'xid-79' },
      ]);
      await store.close();
    });
  });
}
