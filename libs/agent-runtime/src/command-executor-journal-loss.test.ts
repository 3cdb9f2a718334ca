// A spool lost (corrupt or zero-length) takes the command journal with it: the
// agent no longer knows which commands it ran. The manager does: a power action
// it says this node claimed before may be one the node ran, and is reported
// failed instead of run again; one it says is new runs, whatever the node's
// clock says; a reimage runs. A manager that takes no claims cannot say, so
// after a loss its power actions are not run (docs/agent-commands.md).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandSchema } from '@metalfleet/proto';
import { CommandExecutor, type ClaimReply } from './command-executor.ts';
import type { MachineControl } from './machine-control.ts';
import { drainReports, type SpooledReport } from './progress-reports.test-kit.ts';
import { SpoolFile } from './spool.ts';

// The node's clock, which the tenant sets: the loss is stamped by it, and here it runs an hour ahead of the manager's.
const lostAt = new Date('2026-11-27T12:00:00Z');
const before = new Date(lostAt.getTime() - 5 * 60_000);
const after = new Date(lostAt.getTime() + 5 * 60_000);
const managerNow = new Date(lostAt.getTime() - 3600_000);
const dirs: string[] = [];
const files: SpoolFile[] = [];
afterEach(() => {
  for (const f of files.splice(0)) f.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An agent started on a state dir whose spool is `spoolContent` (a zero-length or garbage file). */
function agentOnLostSpool(spoolContent: string, claimedBefore: readonly string[] | null = null) {
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
  // With `claimedBefore`, a manager that takes claims: it knows which commands this node took before the loss.
  const claim = claimedBefore
    ? async (id: string): Promise<ClaimReply> => claimedBefore.includes(id)
      ? { verdict: 'claimed-before', reason: 'already acked at the manager', managerTime: managerNow }
      : { verdict: 'run', reason: '', managerTime: managerNow }
    : undefined;
  const executor = new CommandExecutor({
    spool, machine, boot: {}, logger: pino({ level: 'silent' }), onSpooled: drain, installImage: async () => ({ sha256: '', bytes: 0, detail: '' }), now: () => after,
    ...(claim ? { claim } : {}),
  });
  return { executor, calls, reports };
}

// Messages stamped by the manager's clock; with a deadline only from a manager that takes claims.
let claims = false;
const message = (commandId: string, issuedAt: Date, kind: MessageInitShape<typeof CommandSchema>['kind']) =>
  toBinary(CommandSchema, create(CommandSchema, {
    commandId, issuedAt: timestampFromDate(issuedAt), kind,
    ...(claims ? { firstIssuedAt: timestampFromDate(issuedAt), expiresAt: timestampFromDate(new Date(issuedAt.getTime() + 600_000)) } : {}),
  }));
const reboot = (id: string, at: Date) => message(id, at, { case: 'reboot', value: {} });
const resetGpu = (id: string, at: Date) => message(id, at, { case: 'resetGpu', value: { gpuIndex: 1 } });
const reimage = (id: string, at: Date) =>
  message(id, at, { case: 'reimage', value: { imageName: 'ubuntu', imageVersion: '24.04', sha256: 'ab'.repeat(32), bootScriptUrl: 'http://m/boot', powerCycledByBmc: true } });

describe.each([['zero-length', ''], ['corrupt', 'not a database '.repeat(100)]])('after the spool was lost (%s)', (_, content) => {
  describe('a manager that takes claims', () => {
    beforeEach(() => {
      claims = true;
    });

    it('a reboot or GPU reset the manager says this node took before is redelivered: reported failed, not run, once', async () => {
      const { executor, calls, reports } = agentOnLostSpool(content, ['r1', 'g1']);
      await executor.handle(reboot('r1', managerNow));
      await executor.handle(resetGpu('g1', managerNow));
      await executor.handle(reboot('r1', managerNow));
      expect(calls).toEqual([]);
      expect(reports.map((r) => [r.id, r.phase])).toEqual([['r1', 'FAILED'], ['g1', 'FAILED']]);
      expect(reports[0]!.message).toMatch(/^not repeated: the manager says this node took the command before/);
    });

    it('a new reboot or GPU reset runs though the node clock puts the loss an hour after it was issued; a reimage runs', async () => {
      const { executor, calls, reports } = agentOnLostSpool(content, ['i1']);
      await executor.handle(resetGpu('g2', managerNow));
      await executor.handle(reboot('r2', managerNow));
      await executor.handle(reimage('i1', managerNow));
      expect(calls).toEqual(['reset', 'reboot', 'sync']);
      expect(reports.filter((r) => r.phase === 'FAILED')).toEqual([]);
    });
  });

  describe('a manager from before claims', () => {
    beforeEach(() => {
      claims = false;
    });

    it('a reboot or GPU reset is not run, whenever it says it was issued: reported failed "journal lost, not repeated", once', async () => {
      const { executor, calls, reports } = agentOnLostSpool(content);
      await executor.handle(reboot('r1', before));
      await executor.handle(resetGpu('g1', after));
      await executor.handle(reboot('r1', before));
      expect(calls).toEqual([]);
      expect(reports.map((r) => [r.id, r.phase])).toEqual([['r1', 'FAILED'], ['g1', 'FAILED']]);
      expect(reports[0]!.message).toMatch(/^journal lost, not repeated: /);
    });

    it('a reimage runs whenever it was issued', async () => {
      const { executor, calls, reports } = agentOnLostSpool(content);
      await executor.handle(reimage('i1', before));
      expect(calls).toEqual(['sync']);
      expect(reports.filter((r) => r.phase === 'FAILED')).toEqual([]);
    });
  });
});
