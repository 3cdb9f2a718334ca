import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CommandPhase, CommandProgressSchema, CommandSchema } from '@metalfleet/proto';
import { CommandExecutor } from './command-executor.ts';
import type { MachineControl } from './machine-control.ts';
import { SpoolFile, type Spool } from './spool.ts';

const sha = 'ab'.repeat(32);

function progress(spool: Spool): Array<{ id: string; phase: string; message: string; sha: string }> {
  const out = [];
  for (let entry = spool.head(); entry; entry = spool.head()) {
    const p = fromBinary(CommandProgressSchema, entry.payload);
    out.push({ id: p.commandId, phase: CommandPhase[p.phase], message: p.message, sha: p.verifiedSha256 });
    spool.remove(entry.seq);
  }
  return out;
}

const installed = (digest: string) => async (url: string, onProgress: (p: { bytes: number; total: number | null }) => void) => {
  for (const bytes of [250, 500, 750, 1000]) onProgress({ bytes, total: 1000 });
  return { sha256: digest, bytes: 1000, detail: `wrote 1000 bytes of ${url} to /dev/vda and read them back` };
};

function setup(boot = {}, installImage = installed(sha)) {
  const spool = new SpoolFile(':memory:').spool('n1');
  const calls: string[] = [];
  const machine: MachineControl = {
    rebootIntoPxe: async (url) => void calls.push(`pxe ${url}`),
    reboot: async () => void calls.push('reboot'),
    resetGpu: async (i) => {
      if (i === 9) throw new Error('no GPU 9');
      calls.push(`reset ${i}`);
    },
    flushDisks: async () => void calls.push('sync'),
    setNextBootToDisk: async () => {
      calls.push('next boot disk');
      return 'UEFI BootNext 0001 (debian)';
    },
    bootId: () => 'boot-1',
  };
  const executor = new CommandExecutor({ spool, machine, boot, logger: pino({ level: 'silent' }), onSpooled: () => undefined, installImage });
  return { spool, calls, executor };
}

const reimage = (id: string) => toBinary(CommandSchema, create(CommandSchema, {
  commandId: id, kind: { case: 'reimage', value: { imageName: 'ubuntu', imageVersion: '24.04', sha256: sha, bootScriptUrl: 'http://m/boot/ipxe?mac=x' } },
}));

describe('CommandExecutor', () => {
  it('acks, reports and reboots into PXE once however often the command is delivered', async () => {
    const { spool, calls, executor } = setup();
    const reports: ReturnType<typeof progress> = [];
    // The spool must drain for the reboot to go ahead: empty it as the broker would.
    const draining = setInterval(() => reports.push(...progress(spool)), 20);
    await executor.handle(reimage('c1'));
    await executor.handle(reimage('c1'));
    clearInterval(draining);
    reports.push(...progress(spool));
    expect(calls).toEqual(['pxe http://m/boot/ipxe?mac=x']);
    expect(reports.map((r) => r.phase)).toEqual(['ACKED', 'RUNNING']);
  });

  it('reports a failure with the reason', async () => {
    const { spool, executor } = setup();
    await executor.handle(toBinary(CommandSchema, create(CommandSchema, { commandId: 'c2', kind: { case: 'resetGpu', value: { gpuIndex: 9 } } })));
    expect(progress(spool)).toEqual([
      expect.objectContaining({ phase: 'ACKED' }), expect.objectContaining({ phase: 'RUNNING' }), expect.objectContaining({ phase: 'FAILED', message: 'no GPU 9' }),
    ]);
  });

  it('ignores garbage and commands without an id: nothing to report them against', async () => {
    const { spool, calls, executor } = setup();
    await executor.handle(new Uint8Array([0xff, 0xff, 0xff]));
    await executor.handle(toBinary(CommandSchema, create(CommandSchema, { kind: { case: 'reboot', value: {} } })));
    expect(calls).toEqual([]);
    expect(spool.size()).toBe(0);
  });

  it.each([
    ['no kind (or one newer than this agent)', create(CommandSchema, { commandId: 'k1' }), 'command of no kind this agent knows (none set, or one newer than this agent)'],
    ['a reimage without a valid sha256', create(CommandSchema, { commandId: 'k2', kind: { case: 'reimage', value: { imageName: 'ubuntu', imageVersion: '24.04', sha256: 'abc', bootScriptUrl: 'http://m/b' } } }),
      'refused: reimage command: sha256 must be 64 hex digits'],
    ['a reimage without its boot script', create(CommandSchema, { commandId: 'k3', kind: { case: 'reimage', value: { imageName: 'ubuntu', imageVersion: '24.04', sha256: sha } } }),
      'refused: reimage command: bootScriptUrl must be an http(s) URL when the agent reboots the node itself'],
    ['a reboot into PXE', create(CommandSchema, { commandId: 'k4', kind: { case: 'reboot', value: { pxeNext: true } } }),
      'refused: reboot command: pxeNext is not supported: a reboot into the network boot is a reimage command'],
    ['a GPU past the last', create(CommandSchema, { commandId: 'k5', kind: { case: 'resetGpu', value: { gpuIndex: 4096 } } }),
      'refused: reset-gpu command: gpuIndex must be an integer from 0 to 63'],
  ])('refuses %s with the reason, once, and does nothing', async (_name, command, message) => {
    const { spool, calls, executor } = setup();
    await executor.handle(toBinary(CommandSchema, command));
    await executor.handle(toBinary(CommandSchema, command));
    expect(calls).toEqual([]);
    expect(progress(spool)).toEqual([{ id: command.commandId, phase: 'FAILED', message, sha: '' }]);
  });

  it('with a BMC: flushes the disks and leaves the power cycle to the manager', async () => {
    const { spool, calls, executor } = setup();
    await executor.handle(toBinary(CommandSchema, create(CommandSchema, {
      commandId: 'c3', kind: { case: 'reimage', value: { imageName: 'ubuntu', imageVersion: '24.04', sha256: sha, powerCycledByBmc: true } },
    })));
    expect(calls).toEqual(['sync']);
    expect(progress(spool)).toEqual([
      expect.objectContaining({ phase: 'ACKED' }),
      expect.objectContaining({ phase: 'RUNNING', message: 'disks flushed; the manager power-cycles this node into ubuntu@24.04 through its BMC' }),
    ]);
  });

  it('in the new boot: installs the image once with progress, sets the next boot to disk, and does not run its own reimage again', async () => {
    const boot = { commandId: 'c1', rootUrl: 'http://m/root.img', sha256: sha, image: { name: 'ubuntu', version: '24.04' } };
    const { spool, calls, executor } = setup(boot);
    await executor.handle(reimage('c1'));
    await executor.reportBootResult();
    await executor.reportBootResult();
    expect(calls).toEqual(['next boot disk']);
    expect(progress(spool)).toEqual([
      expect.objectContaining({ id: 'c1', phase: 'RUNNING', message: 'booted ubuntu@24.04; installing http://m/root.img' }),
      expect.objectContaining({ phase: 'RUNNING', message: 'installing ubuntu@24.04: 250 of 1000 bytes' }),
      expect.objectContaining({ phase: 'RUNNING', message: 'installing ubuntu@24.04: 500 of 1000 bytes' }),
      expect.objectContaining({ phase: 'RUNNING', message: 'installing ubuntu@24.04: 750 of 1000 bytes' }),
      {
        id: 'c1', phase: 'SUCCEEDED', sha,
        message: 'image installed and verified: wrote 1000 bytes of http://m/root.img to /dev/vda and read them back; next boot: UEFI BootNext 0001 (debian)',
      },
    ]);
  });

  it('in the new boot: a wrong image is a failed reimage, with the checksum it found, and the next boot stays as it was', async () => {
    const { spool, calls, executor } = setup({ commandId: 'c1', rootUrl: 'http://m/root.img', sha256: sha }, installed('cd'.repeat(32)));
    await executor.reportBootResult();
    expect(progress(spool).at(-1)).toEqual({
      id: 'c1', phase: 'FAILED', sha: 'cd'.repeat(32),
      message: `image checksum mismatch: expected ${sha}, got ${'cd'.repeat(32)} (wrote 1000 bytes of http://m/root.img to /dev/vda and read them back)`,
    });
    expect(calls).toEqual([]);
  });
});
