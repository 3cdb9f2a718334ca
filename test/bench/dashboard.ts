// npm run bench (part): the dashboard's overview of a 10,000-node fleet in a
// real browser (Debian chromium through playwright-core). The fleet is written
// into the manager's SQLite store first (simulated inventories: 313 racks of
// 32, 1 % with a critical GPU fault and a recorded failure), then the real
// manager starts on it. Measured: from navigation to the overview showing
// the node count, the firing alerts and the failure rates; and the node table
// showing its first rows. Target: overview under 1 s.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cohortsOf } from '@metalfleet/domain';
import { createSimulatedBackend } from '@metalfleet/hardware';
import { openSqliteFleetStore } from '@metalfleet/store';
import { buildDashboard, launchBrowser } from '../support/browser.ts';
import { ManagerProcess, measuredWithoutAcceptance } from '../support/manager.ts';

const nodes = Number(process.env['BENCH_DASHBOARD_NODES'] ?? 10_000);
const targetMs = 1000;

async function seed(dataDir: string): Promise<void> {
  const store = openSqliteFleetStore({ path: join(dataDir, 'fleet.db') });
  const at = new Date();
  const cause = (reason: string) => ({ actor: 'bench', reason, at });
  for (let i = 1; i <= nodes; i += 1) {
    const backend = createSimulatedBackend({ seed: 'dashboard-bench', index: i });
    const inventory = await backend.inventory();
    const id = `bench-${String(i).padStart(5, '0')}`;
    await store.createNode({ id, hostname: inventory.system.hostname, identity: await backend.identity(), inventory, agentVersion: 'bench', credentialHash: 'x', at });
    await store.transitionNode(id, 'discovered', 'inspecting', 'inspect', cause('seeded'));
    await store.transitionNode(id, 'inspecting', 'available', 'inspection-passed', cause('seeded'));
    await store.setPresence(id, 'online', at);
    if (i % 100 === 0) {
      const condition = { component: 'gpu:0000:48:00', code: 'xid-79', severity: 'critical' as const, remediation: 'replace' as const, message: 'GPU has fallen off the bus', since: at };
      await store.applyHealthEvent(id, { eventId: `seed-${i}`, sequence: 1, at, receivedAt: at, changes: [{ kind: 'appeared', condition }] });
      const node = await store.getNode(id);
      if (node) await store.recordFailure({ nodeId: id, kind: 'critical-condition', code: 'xid-79', at, cohorts: cohortsOf({ rack: node.rack, tenant: null, pool: 'spares' }, inventory) });
    }
  }
  await store.close();
}

export async function runDashboardBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-bench-dashboard-'));
  const manager = new ManagerProcess(join(dir, 'manager'), [...measuredWithoutAcceptance]);
  let browser: Awaited<ReturnType<typeof launchBrowser>> | null = null;
  try {
    const seeding = performance.now();
    buildDashboard();
    await seed(manager.dataDir);
    console.log(`seeded ${nodes} nodes in ${((performance.now() - seeding) / 1000).toFixed(1)} s`);
    await manager.start();
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, ignoreHTTPSErrors: true });
    await page.goto(manager.http);
    await page.evaluate((token) => localStorage.setItem('metalfleet.token', token), manager.adminToken);
    const timings: number[] = [];
    for (let run = 0; run < 5; run += 1) {
      const started = performance.now();
      await page.goto(`${manager.http}/#/`, { waitUntil: 'commit' });
      await page.reload({ waitUntil: 'commit' });
      await page.getByTestId('tile-nodes').getByText(String(nodes)).waitFor({ timeout: 30_000 });
      await page.getByTestId('firing-alerts').waitFor({ timeout: 30_000 });
      await page.getByText('Racks that stand out (24 h)').locator('xpath=following-sibling::table[1]').waitFor({ timeout: 30_000 });
      timings.push(performance.now() - started);
    }
    const started = performance.now();
    await page.getByRole('navigation').getByRole('link', { name: 'Nodes', exact: true }).click();
    await page.getByTestId('node-total').getByText(String(nodes)).waitFor({ timeout: 30_000 });
    await page.getByRole('link', { name: 'sim-00001' }).or(page.locator('.grid-row a').first()).first().waitFor();
    const table = performance.now() - started;
    timings.sort((a, b) => a - b);
    const median = timings[Math.floor(timings.length / 2)] ?? NaN;
    console.log(`overview of ${nodes} nodes (counts, firing alerts, failure rates), load to rendered: median ${median.toFixed(0)} ms, ` +
      `best ${timings[0]?.toFixed(0)} ms, worst ${timings.at(-1)?.toFixed(0)} ms (target < ${targetMs} ms: ${median < targetMs ? 'met' : 'NOT met'}, ${(median / targetMs).toFixed(2)}× the target)`);
    console.log(`node table of ${nodes}: first rows shown ${table.toFixed(0)} ms after the click`);
  } finally {
    await browser?.close();
    await manager.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  await runDashboardBench();
  process.exit(0);
}
