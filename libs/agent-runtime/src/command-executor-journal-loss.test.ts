// A spool lost (corrupt or zero-length) takes the command journal with it: the
// agent no longer knows which commands it ran. A power action issued before the
// loss may be one it ran, and is reported failed instead of run again; one
// issued after it runs; a reimage runs (docs/agent-commands.md).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandSchema } from '@metalfleet/proto';
import { CommandExecutor, journalLossClockMarginMs } from './command-executor.ts';
import type { MachineControl } from './machine-control.ts';
import { drainReports, type SpooledReport } from './progress-reports.test-kit.ts';
import { SpoolFile } from './spool.ts';

const lostAt = new Date('2026-11-27T12:00:00Z');
const before = new Date(lostAt.getTime() - 5 * 60_000);
const after = new Date(lostAt.getTime() + journalLossClockMarginMs + 1000);
const dirs: string[] = [];
const files: SpoolFile[] = [];
afterEach(() => {
  for (const f of files.splice(0)) f.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An agent started on a state dir whose spool is `spoolContent` (a zero-length or garbage file). */
function agentOnLostSpool(spoolContent: string) {
  const dir = mkdtempSync(join(tmpdir(), 'mf-journal-loss-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'spool.db'), spoolContent);
  const file = new SpoolFile(join(dir, 'spool.db'), () => lostAt);
  files.push(file);
  const spool = file.spool('node');
  const calls: string[] = [];
  const reports: SpooledReport[] = [];
  const drain = () => drainReports(spool, reports);
  const step = (name: string) => async () => void calls.push(name);
  const machine: MachineControl = {
    rebootIntoPxe: step('pxe'), reboot: step('reboot'), resetGpu: step('reset'), flushDisks: step('sync'), setNextBootToDisk: async () => 'disk', bootId: () => 'boot-2',
  };
  const executor = new CommandExecutor({
    spool, machine, boot: {}, logger: pino({ level: 'silent' }), onSpooled: drain, installImage: async () => ({ sha256: '', bytes: 0, detail: '' }), now: () => after,
  });
  return { executor, calls, reports };
}

const message = (commandId: string, issuedAt: Date, kind: MessageInitShape<typeof CommandSchema>['kind']) =>
  toBinary(CommandSchema, create(CommandSchema, { commandId, issuedAt: timestampFromDate(issuedAt), kind }));
const reboot = (id: string, at: Date) => message(id, at, { case: 'reboot', value: {} });
const resetGpu = (id: string, at: Date) => message(id, at, { case: 'resetGpu', value: { gpuIndex: 1 } });
const reimage = (id: string, at: Date) =>
  message(id, at, { case: 'reimage', value: { imageName: 'ubuntu', imageVersion: '24.04', sha256: 'ab'.repeat(32), bootScriptUrl: 'http://m/boot', powerCycledByBmc: true } });

describe.each([['zero-length', ''], ['corrupt', 'not a database '.repeat(100)]])('after the spool was lost (%s)', (_, content) => {
  it('a reboot or GPU reset issued before the loss is redelivered: reported failed "journal lost, not repeated", not run, once', async () => {
    const { executor, calls, reports } = agentOnLostSpool(content);
    await executor.handle(reboot('r1', before));
    await executor.handle(resetGpu('g1', before));
    await executor.handle(reboot('r1', before));
    expect(calls).toEqual([]);
    expect(reports.map((r) => [r.id, r.phase])).toEqual([['r1', 'FAILED'], ['g1', 'FAILED']]);
    expect(reports[0]!.message).toMatch(/^journal lost, not repeated: /);
  });

  it('a reboot or GPU reset issued after the loss runs; a reimage runs whenever it was issued', async () => {
    const { executor, calls, reports } = agentOnLostSpool(content);
    await executor.handle(resetGpu('g2', after));
    await executor.handle(reboot('r2', after));
    await executor.handle(reimage('i1', before));
    expect(calls).toEqual(['reset', 'reboot', 'sync']);
    expect(reports.filter((r) => r.phase === 'FAILED')).toEqual([]);
  });
});
