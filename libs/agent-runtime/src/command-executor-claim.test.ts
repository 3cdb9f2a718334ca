// A command runs only once the manager has said so (the claim), and never after
// the manager gave it up: a withdrawn command (expired, superseded) is refused
// however it is delivered, and while the manager cannot be asked its deadline
// is judged against the manager's clock, kept on a monotonic one, never against
// the node's wall clock (the tenant sets it). docs/agent-commands.md.
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CommandSchema } from '@metalfleet/proto';
import { CommandExecutor, type ClaimReply } from './command-executor.ts';
import type { MachineControl } from './machine-control.ts';
import { ManagerClock } from './manager-clock.ts';
import { drainReports, type SpooledReport } from './progress-reports.test-kit.ts';
import { SpoolFile } from './spool.ts';

const managerT0 = new Date('2026-11-27T12:00:00Z');
const minute = 60_000;

/** An agent whose monotonic clock and pauses are fake, on a node whose wall clock reads `nodeClock`. */
function agent(nodeClock: Date, claim: (id: string) => Promise<ClaimReply>) {
  const spool = new SpoolFile(':memory:').spool('node');
  const calls: string[] = [];
  const reports: SpooledReport[] = [];
  const step = (name: string) => async () => void calls.push(name);
  const machine: MachineControl = {
    rebootIntoPxe: step('pxe'), reboot: step('reboot'), resetGpu: step('reset'), flushDisks: step('sync'), setNextBootToDisk: async () => 'disk', bootId: () => 'boot-1',
  };
  let monotonic = 0;
  const pauses: number[] = [];
  const executor = new CommandExecutor({
    spool, machine, boot: {}, logger: pino({ level: 'silent' }), onSpooled: () => drainReports(spool, reports),
    installImage: async () => ({ sha256: '', bytes: 0, detail: '' }), now: () => nodeClock, claim,
    managerClock: new ManagerClock(() => monotonic),
    pause: async (ms) => {
      pauses.push(ms);
      monotonic += ms;
    },
  });
  return { executor, calls, reports, pauses, advance: (ms: number) => void (monotonic += ms) };
}

const message = (commandId: string, expiresAt: Date, kind: MessageInitShape<typeof CommandSchema>['kind']) =>
  toBinary(CommandSchema, create(CommandSchema, {
    commandId, issuedAt: timestampFromDate(managerT0), firstIssuedAt: timestampFromDate(managerT0), expiresAt: timestampFromDate(expiresAt), kind,
  }));
const reboot = (id: string, expiresAt: Date) => message(id, expiresAt, { case: 'reboot', value: {} });
const reimage = (id: string, expiresAt: Date) =>
  message(id, expiresAt, { case: 'reimage', value: { imageName: 'ubuntu', imageVersion: '24.04', sha256: 'ab'.repeat(32), bootScriptUrl: 'http://m/boot', powerCycledByBmc: false } });

const answer = (verdict: ClaimReply['verdict'], managerTime: Date, reason = ''): ClaimReply => ({ verdict, reason, managerTime });

describe('a command the manager withdrew', () => {
  it('is refused, not run, when the claim says withdrawn, though it arrives long before its deadline; once however often it is delivered', async () => {
    const { executor, calls, reports } = agent(managerT0, async () => answer('withdrawn', managerT0, 'withdrawn by the manager: superseded by command r2; withdrawn'));
    const deadline = new Date(managerT0.getTime() + 10 * minute);
    await executor.handle(reimage('r1', deadline));
    await executor.handle(reimage('r1', deadline));
    expect(calls).toEqual([]);
    expect(reports).toEqual([{ id: 'r1', phase: 'REFUSED', message: 'not run: withdrawn by the manager: superseded by command r2; withdrawn' }]);
  });

  it('a command another node was sent is refused (the manager answers unknown)', async () => {
    const { executor, calls, reports } = agent(managerT0, async () => answer('unknown', managerT0, 'no command x for this node'));
    await executor.handle(reboot('x', new Date(managerT0.getTime() + minute)));
    expect(calls).toEqual([]);
    expect(reports.map((r) => r.phase)).toEqual(['REFUSED']);
  });

  it('runs once claimed; a redelivery while it is being claimed is the same command', async () => {
    let release: (reply: ClaimReply) => void = () => undefined;
    const claims: string[] = [];
    const { executor, calls, reports } = agent(managerT0, (id) => {
      claims.push(id);
      return new Promise((resolve) => (release = resolve));
    });
    const deadline = new Date(managerT0.getTime() + minute);
    const first = executor.handle(reboot('r1', deadline));
    await executor.handle(reboot('r1', deadline));
    release(answer('run', managerT0));
    await first;
    expect(claims).toEqual(['r1']);
    expect(calls).toEqual(['reboot']);
    expect(reports.map((r) => r.phase)).toEqual(['ACKED', 'RUNNING']);
  });
});

describe.each([
  ['a node clock years ahead', new Date('2031-01-01T00:00:00Z')],
  ['a node clock years behind', new Date('2019-01-01T00:00:00Z')],
  ['a node clock that agrees', managerT0],
])('while the manager cannot be asked (%s)', (_, nodeClock) => {
  it('keeps asking until the deadline passes by the manager clock it learned, then refuses it: never judged by the node clock', async () => {
    let reachable = true;
    const { executor, calls, reports, pauses, advance } = agent(nodeClock, async (id) => {
      if (!reachable) throw new Error('UNAVAILABLE');
      return answer(id === 'known' ? 'run' : 'withdrawn', managerT0, 'expired');
    });
    // An earlier claim answered: the manager's time is known from here on.
    await executor.handle(reboot('known', new Date(managerT0.getTime() + minute)));
    expect(calls).toEqual(['reboot']);
    reachable = false;
    advance(30_000);
    // Valid for 2 minutes more by the manager's clock: asked again and again, not run, not refused, until then.
    await executor.handle(reboot('late', new Date(managerT0.getTime() + 30_000 + 2 * minute)));
    expect(calls).toEqual(['reboot']);
    // Asked again at doubling pauses, until the first try after the deadline.
    expect(pauses.slice(0, 5)).toEqual([1000, 2000, 4000, 8000, 16_000]);
    const waited = pauses.reduce((a, b) => a + b, 0);
    expect(waited).toBeGreaterThanOrEqual(2 * minute);
    expect(waited).toBeLessThan(2 * minute + 16_000);
    expect(reports.filter((r) => r.id === 'late')).toEqual([
      { id: 'late', phase: 'REFUSED', message: expect.stringMatching(/^not run: its deadline \(2026-11-27T12:02:30.000Z, the manager's clock\) passed before the manager could be asked/) as unknown },
    ]);
  });

  it('with no manager time known yet, a command past its deadline by the node clock is not refused by it: asked again until the manager answers', async () => {
    let tries = 0;
    const { executor, calls } = agent(nodeClock, async () => {
      tries += 1;
      if (tries < 4) throw new Error('UNAVAILABLE');
      return answer('run', managerT0);
    });
    await executor.handle(reboot('r1', new Date(nodeClock.getTime() - minute)));
    expect(tries).toBe(4);
    expect(calls).toEqual(['reboot']);
  });
});

describe('ManagerClock', () => {
  it('estimates the manager time from the monotonic clock, counting from when the request was sent (errs late)', () => {
    let monotonic = 1000;
    const clock = new ManagerClock(() => monotonic);
    expect(clock.now()).toBeNull();
    expect(clock.passed(new Date(0))).toBe(false);
    const sent = clock.mark();
    monotonic += 400; // the answer took 0.4 s
    clock.observe(managerT0, sent);
    expect(clock.now()).toEqual(new Date(managerT0.getTime() + 400));
    monotonic += minute;
    expect(clock.passed(new Date(managerT0.getTime() + minute))).toBe(true);
    expect(clock.passed(new Date(managerT0.getTime() + minute + 401))).toBe(false);
  });
});
