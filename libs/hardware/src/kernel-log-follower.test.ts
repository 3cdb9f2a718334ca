import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KernelLogFollower } from './kernel-log-follower.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-kmsg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('KernelLogFollower on a text file', () => {
  it('reads lines appended to the file, half lines once complete, and tells listeners of new GPU events only', async () => {
    const file = join(dir, 'sim-001.log');
    const follower = new KernelLogFollower(file, 20);
    let told = 0;
    follower.onEvents(() => (told += 1));
    await follower.followText((error) => {
      throw error;
    });
    appendFileSync(file, 'usb 1-1: new high-speed USB device number 2\n');
    appendFileSync(file, "NVRM: Xid (PCI:0000:9b:00): 79, pid='<unknown>', name=<unknown>, GPU has ");
    await new Promise((r) => setTimeout(r, 150));
    expect([told, follower.snapshot()]).toEqual([0, []]);
    appendFileSync(file, 'fallen off the bus.\n');
    await expect.poll(() => told, { timeout: 2000 }).toBe(1);
    expect(follower.snapshot().map((s) => s.event)).toEqual([expect.objectContaining({ kind: 'xid', xid: 79 })]);
    follower.stop();
  });
});
