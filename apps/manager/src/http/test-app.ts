// The manager's HTTP app over an in-memory store with two nodes, for the
// HTTP tests (inject, no port): every dependency real but the BMC, which no
// test here reaches. `inject` calls as the admin.
import { pino } from 'pino';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { emptyInventory } from '@metalfleet/domain';
import {
  FleetEvents, startEventJournal, createJournalFeed, type EventJournal, type JournalFeed, type AlertEngine, createAlertEngine, createAlertRules, createApiTokens, createBootTokens, createBootstrapTokens, createClusterTemplates, createCommandOutbox, createEnrollments, createFabricReconciler, createFailures,
  createLifecycle, createLifecycleEffects, createReimages, createTenants, parseBmcNetworks, startRemediation,
} from '@metalfleet/fleet';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { RollupStore } from '@metalfleet/telemetry';
import { createNodeBroker } from '@metalfleet/manager-transport';
import { bmcDriver } from '../reimaging.ts';
import { buildHttpApp } from './http-app.ts';
import { createManagerMetrics } from './metrics-routes.ts';

export const testTime = new Date('2026-11-21T10:00:00Z');

/**
 * Gives a node to a tenant (null: takes it back) as an allocation records it: its tenant, and an `allocate` (a
 * `release`) in its history an hour before testTime, from which on a tenant-scoped token sees its data. Its state
 * stays as the test has it.
 */
export async function giveNode(store: FleetStore, nodeId: string, tenantId: string | null): Promise<void> {
  await store.setNodeTenant(nodeId, tenantId);
  const state = (await store.getNodeSummary(nodeId))?.state ?? 'available';
  const at = new Date(testTime.getTime() - 3600_000);
  await store.transitionNode(nodeId, state, state, tenantId === null ? 'release' : 'allocate', { actor: 'test', reason: `given to ${tenantId ?? 'the fleet'}`, at });
}

export interface TestApp {
  app: FastifyInstance;
  store: FleetStore;
  events: FleetEvents;
  feed: JournalFeed;
  journal: EventJournal;
  rollups: RollupStore;
  alerts: AlertEngine;
  /** Bearer tokens by name; `admin` is created here, tests add others. */
  bearer: Record<string, string>;
  /** The API as the admin calls it. */
  inject: (options: InjectOptions) => Promise<LightMyRequestResponse>;
  close: () => Promise<void>;
}

export async function startTestApp(options: { bmcNetworks?: string } = {}): Promise<TestApp> {
  const at = testTime;
  const events = new FleetEvents();
  const store = openSqliteFleetStore({ path: ':memory:' });
  const journal = startEventJournal({ store, events, onError: () => undefined });
  const feed = createJournalFeed({ store, onError: () => undefined });
  for (const [id, uuid] of [['n1', 'uuid-1'], ['n2', 'uuid-2']] as const) {
    await store.createNode({ id, hostname: `host-${id}`, identity: { systemUuid: uuid, systemSerial: '', chassisSerial: '', boardSerial: '', macs: ['aa:bb:cc:00:00:01'], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '0.1.0', credentialHash: 'h', at });
  }
  await store.setPresence('n1', 'online', at);
  const now = () => new Date(at.getTime() + 5000);
  const rollups = new RollupStore({ path: ':memory:', now });
  rollups.write({ nodeId: 'n1', at: new Date(at.getTime() - 60_000), points: [{ gpu: 0, metric: 'power_w', value: 600 }, { gpu: 0, metric: 'power_w', value: 640 }] });
  const lifecycle = createLifecycle({ store, events, now });
  const reconciler = createFabricReconciler({ store, events, drivers: [], provisioningVlan: 10, now });
  const pools = { vlans: { kind: 'VLAN', first: 100, last: 101 }, vnis: { kind: 'VNI', first: 5000, last: 5009 }, provisioningVlan: 10 };
  const tenants = createTenants({ store, events, lifecycle, now, newId: () => `t-${Math.random().toString(36).slice(2, 8)}`, pools, vlansOnPorts: reconciler.vlansOnPorts });
  const broker = await createNodeBroker({ maxPayloadBytes: 65536, authenticateNode: async () => false });
  let id = 0;
  const newId = () => `id-${(id += 1)}`;
  const outbox = createCommandOutbox({ store, broker, events, now, newId, ackTimeoutMs: 1000, maxAttempts: 2, maxPayloadBytes: 65536 });
  const reimages = createReimages({
    store, events, lifecycle, outbox, now, newId, settleFabric: async () => undefined, bmcFor: async () => null, drain: async () => undefined,
    bootScriptUrl: () => 'http://m/boot', limits: { global: 10, perRack: 2, perTenant: 4 }, windows: [],
    timeoutsMs: { draining: 1000, isolating: 1000, rebooting: 1000, installing: 1000, 'health-check': 1000, accepting: 1000, restoring: 1000 }, maxPowerCycles: 1, onError: () => undefined,
  });
  const templates = createClusterTemplates({ store, tenants, reimages, now, newId });
  lifecycle.executeEffectsWith(createLifecycleEffects({
    store, events, tenants, templates, reimages, settleFabric: async () => undefined, powerOff: async () => false, now, onError: () => undefined,
  }));
  const remediation = startRemediation({ store, events, lifecycle, templates, reimages, outbox, drain: async () => undefined, now, cooldownMs: 60_000, onError: () => undefined });
  const apiTokens = createApiTokens({ store, now });
  const failures = createFailures({ store, events, onError: () => undefined, populationTtlMs: 0, cohortTtlMs: 0 });
  const alertRules = createAlertRules({ store, fileRules: null });
  const alerts = createAlertEngine({ store, events, rules: alertRules, population: failures.population, fabric: () => null, notifiers: [], now, onError: () => undefined });
  const bearer: Record<string, string> = { admin: (await apiTokens.create({ name: 'test admin', role: 'admin', tenantId: null, ttlSeconds: null })).token };
  const tokens = createBootstrapTokens({ store, now, caFingerprint: 'f'.repeat(64) });
  const bootTokens = createBootTokens({ tokens, store, now, limits: { discoveryTtlSeconds: 900, discoveryPerMac: 2, discoveryMax: 3, installTtlSeconds: 3600 } });
  const app = await buildHttpApp({
    store, skuProfiles: { file: [] }, logger: pino({ level: 'silent' }), version: '9.9.9', startedAt: at, now, dashboardDir: null, tokens, apiTokens,
    telemetry: rollups, events, feed, metrics: createManagerMetrics(store, events, () => 3, { failures, alerts: () => alerts.list(now()), now }), fabric: { tenants, reconciler, lifecycle, drivers: [], provisioningVlan: 10 },
    operations: { reimages, templates }, nodeActions: { remediation }, failures, alerts: { engine: alerts, rules: alertRules },
    power: { driverFor: bmcDriver, enrollments: createEnrollments({ store, events, power: bmcDriver, now, onError: () => undefined }), bmcNetworks: parseBmcNetworks(options.bmcNetworks ?? '') },
    boot: { managerAddress: () => '10.0.0.1:7471', publicUrl: () => 'http://10.0.0.1:7470', discoveryImage: { name: 'discovery', version: '1' }, imageDir: null, bootTokens, retryAfterS: 900, installTimeoutMs: 1000 },
  });
  return {
    app, store, events, feed, journal, rollups, bearer, alerts,
    inject: (options) => app.inject({ ...options, headers: { authorization: `Bearer ${bearer['admin'] ?? ''}`, ...options.headers } }),
    async close() {
      remediation.stop();
      await app.close();
      await journal.stop();
      await broker.close();
      await store.close();
    },
  };
}
