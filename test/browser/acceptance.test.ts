// Acceptance testing in the dashboard (chromium): a node whose suite failed on
// a slow NVLink shows it in repair, the failing check first with what was
// measured and the threshold, and offers only what repair allows; marked
// repaired there, it passes and the page shows it available, the run passed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { NodeList } from '@metalfleet/api';
import { buildDashboard, dashboardPage, launchBrowser, screenshotDir } from '../support/browser.ts';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-browser-acceptance-'));
const faultsFile = join(dir, 'faults.json');
const profilesFile = join(dir, 'profiles.json');
const manager = new ManagerProcess(join(dir, 'manager'), ['--acceptance', 'on', '--sku-profiles-file', profilesFile, '--health-interval-s', '0.5']);
let agent: Proc | null = null;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  buildDashboard();
  // The simulated machine's SKU (2 NICs at 100 Gb/s, 2 NVMe); its NVLink slow from the start.
  writeFileSync(profilesFile, JSON.stringify([{
    name: 'sim-h100-8', gpuModel: 'H100', gpuCount: 8, minGpuMemoryBytes: 79 * 1024 ** 3, allowedDrivers: [], allowedVbios: [], pcieGen: 5, pcieWidth: 16,
    nvlinksPerGpu: 18, nicCount: 2, minNicSpeedMbps: 100_000, nvmeCount: 2, dimmCount: null, gates: { ncclBusbwGBs: 460, p2pGBs: 0, hostCopyGBs: 0, dcgmLevel: 1 },
  }]));
  writeFileSync(faultsFile, JSON.stringify({ all: ['slow-nvlink'] }));
  await manager.start();
  agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '1', '--simulate-seed', 'browser-acceptance',
    '--faults-file', faultsFile, '--health-interval-s', '0.5', '--state-dir', join(dir, 'agent'), '--kernel-cmdline', '/nonexistent']);
  await eventually(() => manager.get<NodeList>('/api/v1/nodes'), (l) => l.items[0]?.state === 'repair', 60_000);
  browser = await launchBrowser();
  page = await dashboardPage(browser, manager.http, manager.adminToken);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await agent?.stop('SIGKILL');
  await manager.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a node\'s acceptance in the dashboard', () => {
  it('shows the failed check and what repair allows; marked repaired, the node passes and is available', async () => {
    const { items: [node] } = await manager.get<NodeList>('/api/v1/nodes');
    await page.goto(`${manager.http}/#/nodes/${node!.id}`);
    const checks = page.getByTestId('acceptance-checks');
    await checks.waitFor();
    const firstRow = await checks.getByRole('row').nth(1).textContent();
    expect(firstRow).toBe('nvlinkGPU 5: 2 at 13.281 GB/s of 26.56218 up per GPU, all at one speedfail');
    const toolbar = page.getByRole('toolbar', { name: 'node actions' });
    expect(await toolbar.getByRole('button').allTextContents()).toEqual(['Power cycle…', 'Mark repaired…', 'Retire…']);
    await page.screenshot({ path: join(screenshotDir, 'acceptance-failed.png'), fullPage: true });

    writeFileSync(faultsFile, '{}');
    await toolbar.getByRole('button', { name: 'Mark repaired…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Why').fill('reseated the NVLink cable of GPU 5');
    await dialog.getByRole('button', { name: 'Mark repaired' }).click();
    await dialog.getByRole('status').getByText('repair → inspecting').waitFor();
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page.locator('h1 .badge-available').waitFor({ timeout: 30_000 });
    await page.getByTestId('acceptance-checks').getByRole('row').filter({ hasText: 'nccl-allreduce' }).filter({ hasText: 'pass' }).waitFor();
    expect(await page.getByText('1 of 1 earlier run(s) failed').count()).toBe(1);
  });
});
