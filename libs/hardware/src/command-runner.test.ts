import { describe, expect, it } from 'vitest';
import { CommandError, runCommand } from './command-runner.ts';

describe('runCommand', () => {
  it('returns stdout', async () => {
    expect(await runCommand('echo', ['hello'])).toBe('hello\n');
  });
  it('tells a missing tool, a hang and a failure apart', async () => {
    await expect(runCommand('metalfleet-no-such-tool', [])).rejects.toMatchObject({ kind: 'missing' });
    await expect(runCommand('sleep', ['5'], { timeoutMs: 200 })).rejects.toMatchObject({ kind: 'timeout' });
    const failed = await runCommand('ls', ['/no/such/path']).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(CommandError);
    expect(failed).toMatchObject({ kind: 'failed', message: expect.stringContaining('No such file') });
  });
});
