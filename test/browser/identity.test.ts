// The dashboard's Identity page in a real browser: a node whose disk was wiped
// waits there for approval, an operator approves it, and the machine is the
// same node again; two agents with one credential are shown, with no approval
// offered, and closed once one is stopped.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { NodeList } from '@metalfleet/api';
import { buildDashboard, dashboardPage, launchBrowser, screenshotDir } from '../support/browser.ts';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-browser-identity-'));
const state = join(dir, 'agent');
const manager = new ManagerProcess(join(dir, 'manager'));
const agents: Proc[] = [];
let browser: Browser;
let page: Page;

const agent = () => start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '1', '--simulate-seed', 'browser-identity',
  '--state-dir', state, '--retry-initial-ms', '200', '--retry-max-ms', '500', '--kernel-cmdline', '/nonexistent']);
const credentialFile = join(state, 'sim-001', 'credential.json');
const saved = async () => (existsSync(credentialFile) ? JSON.parse(readFileSync(credentialFile, 'utf8')) as { nodeId: string; credential: string } : null);

beforeAll(async () => {
  buildDashboard();
  await manager.start();
  agents.push(agent());
  await eventually(() => manager.get<NodeList>('/api/v1/nodes'), (l) => l.items.some((n) => n.presence === 'online'), 45_000);
  browser = await launchBrowser();
  page = await dashboardPage(browser, manager.http, manager.adminToken);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const a of agents) await a.stop('SIGKILL');
  await manager.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the Identity page', () => {
  it('shows a wiped node waiting for approval; approving it gives the machine its node back', async () => {
    const old = (await saved())!;
    await agents[0]!.stop('SIGKILL');
    rmSync(state, { recursive: true, force: true });
    agents.push(agent());
    await page.getByRole('link', { name: 'Identity' }).click();
    const row = page.getByTestId('conflicts-table').getByRole('row').filter({ hasText: 're-enrolment' });
    await row.waitFor({ timeout: 30_000 });
    expect(await row.textContent()).toContain('without its credential');
    await page.screenshot({ path: join(screenshotDir, 'identity-conflict.png'), fullPage: true });
    await row.getByRole('button', { name: 'Approve…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Approve' }).click();
    const enrolled = await eventually(saved, (s) => s !== null, 30_000);
    expect(enrolled).toMatchObject({ nodeId: old.nodeId });
    expect(enrolled!.credential).not.toBe(old.credential);
    await page.getByText('No machine waits for a decision.').waitFor();
  });
  it('shows two agents with one credential, offers to close the conflict and no approval, and closes it once one agent is stopped', async () => {
    const copy = agent();
    agents.push(copy);
    const row = page.getByTestId('conflicts-table').getByRole('row').filter({ hasText: 'shared-credential' });
    await row.waitFor({ timeout: 45_000 });
    expect(await row.textContent()).toContain('two agents hold node');
    expect(await row.getByRole('button', { name: 'Approve…' }).count()).toBe(0);
    await copy.stop('SIGKILL');
    await row.getByRole('button', { name: 'Close…' }).click();
    expect(await page.getByRole('dialog').textContent()).toContain('Close it once the second agent is stopped');
    await page.getByRole('dialog').getByRole('button', { name: 'Close', exact: true }).click();
    await page.getByText('No machine waits for a decision.').waitFor();
  });
});
