import { describe, expect, it } from 'vitest';
import { kernelCmdlineValues } from './config.ts';

describe('kernel command line', () => {
  it('reads the manager and the bootstrap token the boot script put there', () => {
    const cmdline = 'BOOT_IMAGE=/vmlinuz console=ttyS0 panic=-1 metalfleet.manager=10.0.2.100:7471 metalfleet.token=mfbt.abc123.secret quiet\n';
    expect(kernelCmdlineValues(cmdline)).toEqual({ manager: '10.0.2.100:7471', bootstrapToken: 'mfbt.abc123.secret' });
  });
  it('ignores everything else', () => {
    expect(kernelCmdlineValues('root=/dev/sda1 metalfleet.other=1 metalfleet.manager=')).toEqual({});
  });
});
