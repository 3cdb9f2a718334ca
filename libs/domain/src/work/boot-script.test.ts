import { describe, expect, it } from 'vitest';
import { bootCmdline, ipxeChainWithMac, ipxeLocalBoot, ipxeScript, kernelCmdlineOf, parseBootParameters } from './boot-script.ts';
import { resolveImageUrls } from './catalog.ts';

const image = { name: 'ubuntu-gpu', version: '24.04.1', kernelUrl: 'http://m/k', initrdUrl: 'http://m/i', rootUrl: 'http://m/root.img', sha256: 'ab'.repeat(32), cmdline: 'console=ttyS0 panic=-1' };

describe('boot script', () => {
  it('round-trips from the script the manager serves to the parameters the agent reads', () => {
    const script = ipxeScript(image, bootCmdline(image, { manager: '10.0.2.100:7471', token: 'mfbt.a.b', commandId: 'cmd-1' }));
    expect(script).toContain('initrd --name initrd.img http://m/i');
    const cmdline = kernelCmdlineOf(script);
    expect(cmdline).toMatch(/^initrd=initrd.img console=ttyS0 panic=-1 metalfleet.manager=/);
    expect(parseBootParameters(cmdline ?? '')).toEqual({
      manager: '10.0.2.100:7471', token: 'mfbt.a.b', commandId: 'cmd-1', image: { name: 'ubuntu-gpu', version: '24.04.1' }, rootUrl: 'http://m/root.img', sha256: 'ab'.repeat(32),
    });
  });

  it('carries the install window (seconds to the install deadline) for the agent\'s download retries', () => {
    const cmdline = bootCmdline(image, { manager: 'm:1', token: 't', commandId: 'c', installWindowS: 1799.6 });
    expect(cmdline).toContain(' metalfleet.window=1799');
    expect(parseBootParameters(cmdline).installWindowS).toBe(1799);
    expect(parseBootParameters('metalfleet.window=soon metalfleet.window=-5').installWindowS).toBeUndefined();
  });

  it('ignores other words, empty values and malformed images', () => {
    expect(parseBootParameters('BOOT_IMAGE=/vmlinuz root=/dev/sda1 metalfleet.token= metalfleet.image=noversion metalfleet.other=1 quiet')).toEqual({});
  });

  it('a local boot boots no kernel', () => {
    expect(kernelCmdlineOf(ipxeLocalBoot('unknown MAC'))).toBeNull();
  });

  it('refuses values that would split the command line', () => {
    expect(() => bootCmdline({ ...image, rootUrl: 'http://m/a b' }, { manager: 'm:1', token: 't' })).toThrow('metalfleet.root must not contain whitespace');
  });

  it('completes catalog paths with the address nodes reach the manager at, and leaves absolute URLs alone', () => {
    const onManager = { ...image, kernelUrl: '/images/pxe/1/vmlinuz', initrdUrl: '/images/pxe/1/initrd.img', rootUrl: 'https://mirror/root.img' };
    expect(resolveImageUrls(onManager, 'http://10.0.2.100:7470/')).toMatchObject({
      kernelUrl: 'http://10.0.2.100:7470/images/pxe/1/vmlinuz', initrdUrl: 'http://10.0.2.100:7470/images/pxe/1/initrd.img', rootUrl: 'https://mirror/root.img',
    });
  });

  it('a discovery image (no root) boots the agent with no install parameters; the disk to install to is read', () => {
    const discovery = { ...image, rootUrl: '', sha256: '' };
    const cmdline = bootCmdline(discovery, { manager: 'm:1', token: 't' });
    expect(cmdline).toBe('console=ttyS0 panic=-1 metalfleet.manager=m:1 metalfleet.token=t metalfleet.image=ubuntu-gpu@24.04.1');
    expect(parseBootParameters(`${cmdline} metalfleet.disk=/dev/nvme0n1`)).toMatchObject({ disk: '/dev/nvme0n1' });
  });

  it('asks a client that did not give its MAC to ask again with it', () => {
    expect(ipxeChainWithMac('/boot/ipxe')).toBe('#!ipxe\nchain /boot/ipxe?mac=${netX/mac}\n');
  });
});
