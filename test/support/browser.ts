// A real browser: Debian's chromium driven by playwright-core (no browser
// download), installed on first use; and the dashboard built fresh for it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { aptInstall } from './apt.ts';

const repo = resolve(import.meta.dirname, '..', '..');
/** Screenshots of each page land here (CI keeps them as artifacts). */
export const screenshotDir = join(repo, 'test', 'artifacts', 'screenshots');

export function ensureChromiumInstalled(): void {
  if (existsSync('/usr/bin/chromium')) return;
  aptInstall(['chromium'], { recommends: false });
}

/** Builds apps/dashboard into its dist/, which the manager serves. */
export function buildDashboard(): void {
  execFileSync(process.execPath, [join(repo, 'apps', 'dashboard', 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], { cwd: join(repo, 'apps', 'dashboard'), stdio: 'inherit' });
}

export async function launchBrowser(): Promise<Browser> {
  ensureChromiumInstalled();
  mkdirSync(screenshotDir, { recursive: true });
  // --no-sandbox: tests run as root in CI, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** A new page of the dashboard at `url`, logged in with `token` (1280 x 900 unless told). */
export async function dashboardPage(browser: Browser, url: string, token: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
  const page = await browser.newPage({ viewport, ignoreHTTPSErrors: true });
  await page.goto(url);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  return page;
}
