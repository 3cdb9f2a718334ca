// One behavioural suite every FleetStore implementation must pass: its nodes (fleet-records.contract.ts: the rest).
import { describe, expect, it } from 'vitest';
import { defaultSkuProfiles, emptyInventory, type HealthCondition, type NodeIdentity } from '@metalfleet/domain';
import type { FleetStore, NewNode } from './fleet-store.ts';
import { acceptanceRunsKept } from './acceptance-store.ts';

export interface StoreFactory {
  /** Opens the store; opening again with the same key must see the same data. */
  open(key: string): Promise<FleetStore>;
}

function identity(partial: Partial<NodeIdentity>): NodeIdentity {
  return { systemUuid: '', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '', ...partial };
}

export function newNode(id: string, partial: Partial<NodeIdentity>, at = new Date('2026-11-01T00:00:00Z')): NewNode {
  const inventory = emptyInventory();
  inventory.system.hostname = `host-${id}`;
  inventory.collectedAt = at;
  return { id, hostname: `host-${id}`, identity: identity(partial), inventory, agentVersion: '0.1.0', credentialHash: `hash-${id}`, at };
}

export function describeFleetStore(name: string, factory: StoreFactory): void {
  describe(`FleetStore on ${name}`, () => {
    it('finds a node by UUID, by any serial and by any MAC, and nothing else', async () => {
      const store = await factory.open('candidates');
      await store.createNode(newNode('n1', { systemUuid: 'UUID-1', systemSerial: 'S1', macs: ['aa:bb:cc:00:00:01'] }));
      await store.createNode(newNode('n2', { boardSerial: 'B2', macs: ['aa:bb:cc:00:00:02', 'aa:bb:cc:00:00:03'] }));
      const ids = async (p: Partial<NodeIdentity>) => (await store.findIdentityCandidates(identity(p))).map((c) => c.nodeId).sort();
      expect(await ids({ systemUuid: 'uuid-1' })).toEqual(['n1']);
      expect(await ids({ chassisSerial: 'S1' })).toEqual(['n1']);
      expect(await ids({ systemSerial: 'B2' })).toEqual(['n2']);
      expect(await ids({ boardSerial: 'b2' })).toEqual(['n2']);
      expect(await ids({ systemUuid: '{UUID-1}', macs: ['aabb.cc00.0003'] })).toEqual(['n1', 'n2']);
      expect(await ids({ macs: ['AA:BB:CC:00:00:03'] })).toEqual(['n2']);
      expect(await ids({ systemUuid: 'uuid-1', macs: ['aa:bb:cc:00:00:02'] })).toEqual(['n1', 'n2']);
      expect(await ids({ systemUuid: 'nobody' })).toEqual([]);
      await store.close();
    });

    it('keeps nodes, inventory and presence across a restart', async () => {
      const first = await factory.open('restart');
      await first.createNode(newNode('n1', { systemUuid: 'uuid-r', macs: ['aa:bb:cc:00:00:09'] }));
      await first.setPresence('n1', 'online', new Date('2026-11-01T00:01:00Z'));
      await first.close();
      const second = await factory.open('restart');
      const node = await second.getNode('n1');
      expect(node).toMatchObject({ id: 'n1', hostname: 'host-n1', presence: 'online', state: 'discovered', identity: { systemUuid: 'uuid-r', macs: ['aa:bb:cc:00:00:09'] } });
      expect(node?.inventory.collectedAt).toEqual(new Date('2026-11-01T00:00:00Z'));
      expect(node).toMatchObject({ tenant: null, rack: '', gpuModel: '', gpuCount: 0 });
      if (!node) throw new Error('node n1 lost across the restart');
      const { inventory: _inventory, ...summary } = node;
      expect(await second.getNodeSummary('n1')).toEqual(summary);
      expect(await second.getNodeSummary('nope')).toBeNull();
      expect(await second.credentialHash('n1')).toBe('hash-n1');
      await second.close();
    });

    it('knows the latest time it stamped on a frequent write (how recently a manager ran), whatever the table', async () => {
      const store = await factory.open('lastwrite');
      expect(await store.lastWriteAt()).toBeNull();
      await store.createNode(newNode('n1', { systemUuid: 'u-lw' }));
      await store.markSeenMany([['n1', new Date('2026-11-01T03:00:00Z')]]);
      expect(await store.lastWriteAt()).toEqual(new Date('2026-11-01T03:00:00Z'));
      await store.transitionNode('n1', 'discovered', 'inspecting', 'inspect', { actor: 'system', reason: 'r', at: new Date('2026-11-01T03:00:05Z') });
      expect(await store.lastWriteAt()).toEqual(new Date('2026-11-01T03:00:05Z'));
      await store.setPresence('n1', 'offline', new Date('2026-11-01T03:00:09Z'));
      expect(await store.lastWriteAt()).toEqual(new Date('2026-11-01T03:00:09Z'));
      await store.close();
    });

    it('reports a presence change once, and finds online nodes gone silent', async () => {
      const store = await factory.open('presence');
      await store.createNode(newNode('n1', { systemUuid: 'u-p' }));
      expect(await store.setPresence('n1', 'online', new Date('2026-11-01T00:00:10Z'))).toBe(true);
      expect(await store.setPresence('n1', 'online', new Date('2026-11-01T00:00:11Z'))).toBe(false);
      await store.markSeenMany([['n1', new Date('2026-11-01T00:00:20Z')]]);
      expect(await store.silentNodes(new Date('2026-11-01T00:00:15Z'))).toEqual([]);
      expect(await store.silentNodes(new Date('2026-11-01T00:00:30Z'))).toEqual(['n1']);
      expect(await store.setPresence('n1', 'offline', new Date('2026-11-01T00:00:31Z'))).toBe(true);
      expect(await store.silentNodes(new Date('2026-11-01T00:00:40Z'))).toEqual([]);
      expect(await store.setPresence('missing', 'online', new Date())).toBe(false);
      await store.setPresence('n1', 'online', new Date('2026-11-01T00:00:41Z'));
      await store.markSeenMany([['n1', new Date('2026-11-01T00:01:00Z')], ['missing', new Date('2026-11-01T00:01:00Z')]]);
      expect((await store.getNode('n1'))?.lastSeenAt).toEqual(new Date('2026-11-01T00:01:00Z'));
      await store.markSeenMany([['n1', new Date('2026-11-01T00:00:50Z')]]);
      expect((await store.getNode('n1'))?.lastSeenAt).toEqual(new Date('2026-11-01T00:01:00Z'));
      // Heard from after it was marked offline (by another replica): named; heard from only before: not.
      await store.setPresence('n1', 'offline', new Date('2026-11-01T00:02:00Z'));
      expect(await store.markSeenMany([['n1', new Date('2026-11-01T00:01:30Z')]])).toEqual([]);
      expect(await store.markSeenMany([['n1', new Date('2026-11-01T00:02:30Z')], ['missing', new Date('2026-11-01T00:02:30Z')]])).toEqual(['n1']);
      await store.close();
    });

    it('keeps the GPU model, GPU count and rack (from LLDP) of the latest inventory with the node', async () => {
      const store = await factory.open('facts');
      const n = newNode('n1', { systemUuid: 'u-f' });
      await store.createNode(n);
      const inventory = { ...n.inventory, gpus: [0, 1].map((index) => ({ index, model: 'NVIDIA H200', uuid: `GPU-${index}`, serial: '', vbiosVersion: '', driverVersion: '', cudaVersion: '', pciBusId: '', memoryBytes: 0, pcieMaxGen: 5, pcieMaxWidth: 16, pcieLinkMaxGen: 5, pcieCurrentWidth: 16, migMode: '', powerLimitW: 700, defaultPowerLimitW: 700, eccMode: '' })),
        nics: [{ name: 'eth0', mac: 'aa:bb:cc:00:00:01', speedMbps: 100000, linkUp: true, driver: '', firmware: '', physical: true, neighbor: { switchName: 'leaf-07', switchId: 'x', portId: 'Ethernet4', portDescription: '' } }] };
      expect(await store.updateInventory('n1', inventory)).toBe(true);
      expect((await store.listNodes())[0]).toMatchObject({ gpuModel: 'NVIDIA H200', gpuCount: 2, rack: 'leaf-07' });
      expect(await store.updateInventory('missing', inventory)).toBe(false);
      await store.close();
    });

    it('replaces the MAC set and credential on re-registration', async () => {
      const store = await factory.open('rereg');
      await store.createNode(newNode('n1', { systemUuid: 'u-x', macs: ['aa:bb:cc:00:00:01'] }));
      await store.updateRegistration({ ...newNode('n1', { systemUuid: 'u-x', macs: ['aa:bb:cc:00:00:02'] }), credentialHash: 'rotated' });
      expect((await store.getNode('n1'))?.identity.macs).toEqual(['aa:bb:cc:00:00:02']);
      expect(await store.credentialHash('n1')).toBe('rotated');
      expect(await store.findIdentityCandidates(identity({ macs: ['aa:bb:cc:00:00:01'] }))).toEqual([]);
      await store.close();
    });

    it('applies each health event once, and a digest replaces the set', async () => {
      const store = await factory.open('health');
      await store.createNode(newNode('n1', { systemUuid: 'u-h' }));
      const since = new Date('2026-11-01T01:00:00Z');
      const hot: HealthCondition = { component: 'gpu:0000:18:00', code: 'thermal-slowdown', severity: 'warning', remediation: 'none', message: 'hot', since };
      const x8: HealthCondition = { ...hot, code: 'pcie-width-degraded', remediation: 'replace', message: 'x8 of x16' };
      const event = (eventId: string, sequence: number, changes: Array<{ kind: 'appeared' | 'changed' | 'cleared'; condition: HealthCondition }>) =>
        ({ eventId, sequence, at: since, receivedAt: since, changes });
      expect(await store.applyHealthEvent('n1', event('e1', 1, [{ kind: 'appeared', condition: hot }, { kind: 'appeared', condition: x8 }]))).toBe(true);
      expect(await store.applyHealthEvent('n1', event('e1', 1, [{ kind: 'appeared', condition: hot }]))).toBe(false);
      expect(await store.applyHealthEvent('n1', event('e2', 2, [{ kind: 'cleared', condition: hot }]))).toBe(true);
      expect((await store.conditions('n1')).map((c) => c.code)).toEqual(['pcie-width-degraded']);
      expect((await store.healthEvents('n1', 10)).map((e) => e.eventId)).toEqual(['e1', 'e2']);
      expect((await store.healthEvents('n1', 1)).map((e) => e.eventId)).toEqual(['e2']);
      // Paged newest first: the page before the cursor, until none is left.
      const newest = await store.healthEventPage('n1', 1);
      expect(newest.events.map((e) => e.eventId)).toEqual(['e2']);
      const older = await store.healthEventPage('n1', 1, newest.next ?? undefined);
      expect(older.events.map((e) => e.eventId)).toEqual(['e1']);
      expect((await store.healthEventPage('n1', 1, older.next ?? undefined)).events).toEqual([]);
      expect(await store.healthEventPage('n1', 5)).toMatchObject({ events: [{ eventId: 'e2' }, { eventId: 'e1' }], next: null });
      expect((await store.getNode('n1'))?.health).toEqual({ severity: 'warning', remediation: 'replace', conditionCount: 1 });
      await store.createNode(newNode('n2', { systemUuid: 'u-h2' }));
      expect(await store.nodeCounts()).toEqual({ byStateAndPresence: [{ state: 'discovered', presence: 'unknown', count: 2 }], bySeverity: { ok: 1, warning: 1, critical: 0 }, conditionsBySeverity: { ok: 0, warning: 1, critical: 0 } });
      expect(await store.applyHealthEvent('unknown-node', event('e3', 3, [{ kind: 'appeared', condition: hot }]))).toBe(false);
      await store.replaceConditions('n1', [{ ...hot, severity: 'critical' }]);
      expect((await store.listNodes())[0]?.health).toEqual({ severity: 'critical', remediation: 'none', conditionCount: 1 });
      expect((await store.healthEvents('n1', 10))[0]?.changes[0]?.condition.since).toEqual(since);
      await store.close();
    });

    it('keeps each acceptance run once per command, newest first', async () => {
      const store = await factory.open('acceptance');
      await store.createNode(newNode('n1', { systemUuid: 'u-acc' }));
      const check = { name: 'nvlink', measured: 'GPU 5: 16 up', threshold: '18 up per GPU', verdict: 'fail' as const };
      const run = { nodeId: 'n1', commandId: 'c1', profile: 'hgx-h100-8', passed: false, checks: [check], outputs: [{ tool: 'nvidia-smi nvlink -s', text: 'GPU 5: …' }], at: new Date(1000) };
      expect(await store.recordAcceptance(run)).toBe(true);
      expect(await store.recordAcceptance({ ...run, passed: true })).toBe(false);
      expect(await store.recordAcceptance({ ...run, commandId: 'c2', passed: true, checks: [], profile: null, at: new Date(2000) })).toBe(true);
      expect((await store.acceptanceRuns('n1', 10)).map((r) => [r.commandId, r.passed, r.profile])).toEqual([['c2', true, null], ['c1', false, 'hgx-h100-8']]);
      expect((await store.acceptanceRuns('n1', 10))[1]).toEqual(run);
      expect(await store.acceptanceRuns('n2', 10)).toEqual([]);
      // A node reimaged and accepted again and again keeps its newest runs only (review finding: they grew without end).
      for (let i = 0; i < acceptanceRunsKept + 5; i += 1) await store.recordAcceptance({ ...run, commandId: `r${i}`, at: new Date(10_000 + i) });
      const kept = await store.acceptanceRuns('n1', 1000);
      expect(kept).toHaveLength(acceptanceRunsKept);
      expect(kept[0]?.commandId).toBe(`r${acceptanceRunsKept + 4}`);
      // The operator's SKU profiles, by name: made, replaced, removed.
      const [h100] = defaultSkuProfiles;
      await store.putSkuProfile({ ...h100!, name: 'b-profile' }, new Date(1));
      await store.putSkuProfile({ ...h100!, name: 'a-profile', nvmeCount: 2 }, new Date(1));
      await store.putSkuProfile({ ...h100!, name: 'a-profile', nvmeCount: 4 }, new Date(2));
      expect((await store.listSkuProfiles()).map((p) => [p.name, p.nvmeCount])).toEqual([['a-profile', 4], ['b-profile', 8]]);
      expect(await store.listSkuProfiles()).toContainEqual({ ...h100!, name: 'b-profile' });
      expect(await store.deleteSkuProfile('b-profile')).toBe(true);
      expect(await store.deleteSkuProfile('b-profile')).toBe(false);
      expect((await store.listSkuProfiles()).map((p) => p.name)).toEqual(['a-profile']);
      await store.close();
    });

    it('moves state only from the expected state, and keeps the history', async () => {
      const store = await factory.open('lifecycle');
      await store.createNode(newNode('n1', { systemUuid: 'u-l' }));
      const at = new Date('2026-11-01T02:00:00Z');
      expect(await store.transitionNode('n1', 'discovered', 'inspecting', 'inspect', { actor: 'registration', reason: 'first boot', at })).toBe(true);
      expect(await store.transitionNode('n1', 'discovered', 'inspecting', 'inspect', { actor: 'late controller', reason: 'again', at })).toBe(false);
      expect(await store.transitionNode('n1', 'inspecting', 'available', 'inspection-passed', { actor: 'inspection', reason: 'healthy', at })).toBe(true);
      expect((await store.getNode('n1'))?.state).toBe('available');
      expect(await store.history('n1')).toEqual([
        { from: 'discovered', to: 'inspecting', event: 'inspect', actor: 'registration', reason: 'first boot', at },
        { from: 'inspecting', to: 'available', event: 'inspection-passed', actor: 'inspection', reason: 'healthy', at },
      ]);
      expect(await store.transitionNode('missing', 'discovered', 'inspecting', 'inspect', { actor: 'x', reason: 'y', at })).toBe(false);
      await store.setPresence('n1', 'offline', new Date('2026-11-01T03:00:00Z'));
      expect(await store.offlineSince('available', new Date('2026-11-01T03:10:00Z'))).toEqual(['n1']);
      expect(await store.offlineSince('available', new Date('2026-11-01T02:50:00Z'))).toEqual([]);
      expect(await store.offlineSince('active', new Date('2026-11-01T03:10:00Z'))).toEqual([]);
      await store.close();
    });

    it('lists nodes in registration order and answers null for an unknown node', async () => {
      const store = await factory.open('list');
      await store.createNode(newNode('b', { systemUuid: 'u-b' }, new Date('2026-11-01T00:00:02Z')));
      await store.createNode(newNode('a', { systemUuid: 'u-a' }, new Date('2026-11-01T00:00:01Z')));
      expect((await store.listNodes()).map((n) => n.id)).toEqual(['a', 'b']);
      expect(await store.getNode('nope')).toBeNull();
      await store.close();
    });
  });
}
