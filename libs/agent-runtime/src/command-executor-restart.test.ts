// What an agent restart does to a command it had started (docs/agent-commands.md):
// each "restart" is a new executor on the same spool file, as a new agent
// process finds it; the boot id says whether the machine rebooted meanwhile.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { BootParameters } from '@metalfleet/domain';
import { CommandSchema } from '@metalfleet/proto';
import { CommandExecutor } from './command-executor.ts';
import type { InstallImage } from './image-installer.ts';
import type { MachineControl } from './machine-control.ts';
import { drainReports, type SpooledReport } from './progress-reports.test-kit.ts';
import { SpoolFile } from './spool.ts';

const sha = 'ab'.repeat(32);
const never = () => new Promise<never>(() => undefined);
const dirs: string[] = [];
const files: SpoolFile[] = [];
afterEach(() => {
  for (const f of files.splice(0)) f.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mf-executor-'));
  dirs.push(dir);
  return dir;
}

interface Start {
  bootId: string;
  boot?: BootParameters;
  installImage?: InstallImage;
  /** The step the agent is in when it is killed: never returns. */
  hang?: 'reboot' | 'reset' | 'pxe' | 'accept';
}

/** One agent start on `dir`: what it did to the machine and what it reported (drained as the broker would). */
function agentStart(dir: string, start: Start) {
  const file = new SpoolFile(join(dir, 'spool.db'));
  files.push(file);
  const spool = file.spool('node');
  const calls: string[] = [];
  const reports: SpooledReport[] = [];
  const drain = () => drainReports(spool, reports);
  let reached: () => void = () => undefined;
  /** Resolves when the agent is in the step it hangs in: where the test kills it. */
  const hung = new Promise<void>((resolve) => { reached = resolve; });
  const step = (name: string, hang: boolean) => async () => {
    calls.push(name);
    if (!hang) return;
    reached();
    await never();
  };
  const machine: MachineControl = {
    rebootIntoPxe: step('pxe', start.hang === 'pxe'),
    reboot: step('reboot', start.hang === 'reboot'),
    resetGpu: step('reset', start.hang === 'reset'),
    flushDisks: step('sync', false),
    setNextBootToDisk: async () => 'disk',
    bootId: () => start.bootId,
  };
  const installImage: InstallImage = start.installImage ?? (async () => ({ sha256: sha, bytes: 1, detail: 'written' }));
  const acceptance = async () => {
    await step('accept', start.hang === 'accept')();
    return { nvlinks: null, nccl: null, dcgm: null, copies: null, stress: null, outputs: [] };
  };
  const executor = new CommandExecutor({ spool, machine, boot: start.boot ?? {}, logger: pino({ level: 'silent' }), onSpooled: drain, installImage, acceptance });
  return { executor, calls, reports, hung, reached };
}

const message = (commandId: string, kind: MessageInitShape<typeof CommandSchema>['kind']) =>
  toBinary(CommandSchema, create(CommandSchema, { commandId, kind }));
const reimage = (id: string) => message(id, { case: 'reimage', value: { imageName: 'ubuntu', imageVersion: '24.04', sha256: sha, bootScriptUrl: 'http://m/boot' } });
const reboot = (id: string) => message(id, { case: 'reboot', value: {} });
const resetGpu = (id: string) => message(id, { case: 'resetGpu', value: { gpuIndex: 2 } });

/** Runs a delivery up to the step that hangs: the agent is killed there (its promise is left pending). */
async function killedDuring(agent: { hung: Promise<void> }, work: Promise<void>): Promise<void> {
  void work;
  await agent.hung;
}

describe('a command interrupted by an agent restart', () => {
  it('accept, killed mid-suite: not run again by itself after the restart (the node may be a tenant\'s by then): reported failed (review finding)', async () => {
    const dir = stateDir();
    const first = agentStart(dir, { bootId: 'b1', hang: 'accept' });
    await killedDuring(first, first.executor.handle(message('a1', { case: 'accept', value: { dcgmLevel: 0, nccl: true, nvbandwidth: false, stressSeconds: 300 } })));
    const second = agentStart(dir, { bootId: 'b1' });
    await second.executor.recover();
    expect(second.calls).toEqual([]);
    expect(second.reports).toEqual([{ id: 'a1', phase: 'FAILED', message: 'the agent restarted during the acceptance suite; not run again without the manager asking' }]);
  });

  it('reimage, killed before its reboot took place: run again after the restart in the same boot, not again after that', async () => {
    const dir = stateDir();
    const first = agentStart(dir, { bootId: 'b1', hang: 'pxe' });
    await killedDuring(first, first.executor.handle(reimage('r1')));
    const second = agentStart(dir, { bootId: 'b1' });
    await second.executor.recover();
    await second.executor.handle(reimage('r1')); // the manager's redelivery meanwhile changes nothing
    expect(second.calls).toEqual(['pxe']);
    expect(second.reports.map((r) => r.phase)).toEqual(['RUNNING']);
    // The reboot went to the disk instead of the network: the reimage failed, it is not tried in a loop.
    const third = agentStart(dir, { bootId: 'b2' });
    await third.executor.recover();
    expect(third.calls).toEqual([]);
    expect(third.reports).toEqual([{ id: 'r1', phase: 'FAILED', message: 'the node booted again, but not into the network boot of this reimage' }]);
  });

  it('reimage install, killed mid-install: installed again after the restart, its result reported once', async () => {
    const dir = stateDir();
    const boot = { commandId: 'r2', rootUrl: 'http://m/root.img', sha256: sha };
    let installs = 0;
    const first = agentStart(dir, { bootId: 'b2', boot, installImage: async () => {
      installs += 1;
      first.reached();
      return never();
    } });
    await killedDuring(first, first.executor.reportBootResult());
    const second = agentStart(dir, { bootId: 'b2', boot, installImage: async () => {
      installs += 1;
      return { sha256: sha, bytes: 1, detail: 'written' };
    } });
    await second.executor.recover();
    await Promise.all([second.executor.reportBootResult(), second.executor.reportBootResult()]);
    const third = agentStart(dir, { bootId: 'b2', boot });
    await third.executor.recover();
    await third.executor.reportBootResult();
    expect(installs).toBe(2);
    expect([...second.reports, ...third.reports].filter((r) => r.phase !== 'RUNNING')).toEqual([{ id: 'r2', phase: 'SUCCEEDED', message: 'image installed and verified: written; next boot: disk' }]);
  });

  it('reboot, killed before the machine went down: not repeated, reported as not done', async () => {
    const dir = stateDir();
    const first = agentStart(dir, { bootId: 'b1', hang: 'reboot' });
    await killedDuring(first, first.executor.handle(reboot('p1')));
    const second = agentStart(dir, { bootId: 'b1' });
    await second.executor.recover();
    await second.executor.handle(reboot('p1'));
    expect(second.calls).toEqual([]);
    expect(second.reports).toEqual([{ id: 'p1', phase: 'FAILED', message: 'the agent restarted before the reboot took place (same boot); not repeated' }]);
  });

  it('reboot that happened: the agent back in a new boot reports it succeeded, and does not reboot again', async () => {
    const dir = stateDir();
    const first = agentStart(dir, { bootId: 'b1' });
    await first.executor.handle(reboot('p2'));
    expect(first.reports.map((r) => r.phase)).toEqual(['ACKED', 'RUNNING']);
    const second = agentStart(dir, { bootId: 'b2' });
    await second.executor.recover();
    await second.executor.handle(reboot('p2'));
    expect(second.calls).toEqual([]);
    expect(second.reports).toEqual([{ id: 'p2', phase: 'SUCCEEDED', message: 'rebooted: the agent is back in a new boot' }]);
  });

  it('GPU reset, killed mid-reset: not repeated, its outcome reported as not known', async () => {
    const dir = stateDir();
    const first = agentStart(dir, { bootId: 'b1', hang: 'reset' });
    await killedDuring(first, first.executor.handle(resetGpu('g1')));
    const second = agentStart(dir, { bootId: 'b1' });
    await second.executor.recover();
    expect(second.calls).toEqual([]);
    expect(second.reports).toEqual([{ id: 'g1', phase: 'FAILED', message: 'the agent restarted during the reset; whether GPU 2 was reset is not known; not repeated' }]);
  });
});

describe('a command interrupted while the boot id could not be read', () => {
  it('reboot recorded in an unknown boot: not reported as done when the next start reads a boot id', async () => {
    const dir = stateDir();
    const first = agentStart(dir, { bootId: '', hang: 'reboot' });
    await killedDuring(first, first.executor.handle(reboot('p3')));
    const second = agentStart(dir, { bootId: 'b2' });
    await second.executor.recover();
    expect(second.calls).toEqual([]);
    expect(second.reports).toEqual([{ id: 'p3', phase: 'FAILED', message: 'the agent restarted during the reboot; this machine does not say which boot it is in, so whether it rebooted is not known; not repeated' }]);
  });
});

describe('a refused command interrupted by an agent restart', () => {
  it('killed after the refusal was journalled and before it was reported: reported failed after the restart, once', async () => {
    const dir = stateDir();
    // What the agent leaves when it is killed between journalling a refused command and spooling its report.
    const bad = message('x1', { case: 'resetGpu', value: { gpuIndex: 99 } });
    const killed = new SpoolFile(join(dir, 'spool.db'));
    files.push(killed);
    expect(killed.spool('node').startCommand({ key: 'x1', kind: 'refused', payload: bad, bootId: 'b1' }, new Date())).toBe('new');
    const second = agentStart(dir, { bootId: 'b1' });
    await second.executor.recover();
    await second.executor.handle(bad); // the manager's redelivery
    expect(second.calls).toEqual([]);
    expect(second.reports).toEqual([{ id: 'x1', phase: 'FAILED', message: 'refused: reset-gpu command: gpuIndex must be an integer from 0 to 63' }]);
  });
});
