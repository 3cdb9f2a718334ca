// Commands from the manager (topic `commands`, QoS 1): ack, report progress
// and the result through the spool (in order, across restarts), and carry each
// command id out once however often it is delivered. A reimage ends in a new
// boot: the agent there installs the root image, checks what it wrote, and
// reports the result for the command id on its kernel command line.
//
// What happens to a command a crash (or a SIGKILL, or a reboot) interrupted is
// decided per kind (crashRecovery in libs/domain; docs/agent-commands.md):
//
//   kind               on a restart while started, not done
//   reimage (ack)      same boot: run again (set the next boot, reboot: both
//                      idempotent); another boot that is not its install boot:
//                      failed (the node did not network-boot)
//   reimage (install)  run again: write the image and check it again
//   reboot             not repeated; a new boot means it happened (succeeded),
//                      the same boot means it did not (failed)
//   reset-gpu          not repeated; whether the GPU was reset is not known (failed)
//   accept             not repeated (the node may have left acceptance): failed
//
// The journal in the spool records a command as started before it runs and as
// done when its result is spooled; recover() runs once per start.
//
// Before a new command runs, the agent claims it from the manager (gRPC
// ClaimCommand): the manager takes it as acknowledged, or answers that it was
// withdrawn (expired, superseded) or that this node claimed it before. Only a
// claimed command runs; a withdrawn one is reported refused. While the manager
// cannot be asked, the command's deadline (the manager's clock) is judged by a
// ManagerClock, never by this node's wall clock. A power action the manager
// says was claimed before, which the journal does not know (the spool was lost,
// or the agent died between the claim and the journal), is not run again.
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Logger } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { crashRecovery, type AcceptanceFacts, type AcceptArgs, type AgentCommand, type BootParameters } from '@metalfleet/domain';
import { CommandPhase, CommandProgressSchema, type AcceptanceFactsSchema } from '@metalfleet/proto';
import { decodeCommand } from './command-message.ts';
import type { InstallImage } from './image-installer.ts';
import type { MachineControl } from './machine-control.ts';
import { ManagerClock } from './manager-clock.ts';
import type { Spool } from './spool.ts';
import { failureFields } from './log-fields.ts';

export interface CommandExecutorDeps {
  spool: Spool;
  machine: MachineControl;
  /** What this boot was started for (kernel command line). */
  boot: BootParameters;
  logger: Logger;
  /** Called after a progress report is spooled (kicks the drainer). */
  onSpooled: () => void;
  /** Writes (or, simulated, fetches) the root image and returns the sha256 of what was installed. */
  installImage: InstallImage;
  /** Runs the acceptance suite and gives what it measured (acceptance-suite.ts). None: accept commands fail, saying so. */
  acceptance?: (args: AcceptArgs) => Promise<AcceptanceFacts>;
  /**
   * Asks the manager whether this node may run a command (AgentService.ClaimCommand); rejects when the
   * manager cannot be asked. None: commands run without a claim (tests of the other rules).
   */
  claim?: (commandId: string) => Promise<ClaimReply>;
  /** The manager's clock as this agent knows it; by default one on this process's monotonic clock. */
  managerClock?: ManagerClock;
  /** The pause between claims the manager did not answer (default: a timer). */
  pause?: (ms: number) => Promise<void>;
  /** Ends claims still being asked when the agent stops. */
  signal?: AbortSignal;
  now?: () => Date;
}

/** The manager's answer to a claim (AgentService.ClaimCommand). */
export interface ClaimReply {
  verdict: 'run' | 'claimed-before' | 'withdrawn' | 'unknown';
  reason: string;
  /** The manager's clock when it answered. */
  managerTime: Date | null;
}

/** Claims the manager did not answer are asked again after 1 s, doubling to 16 s (the default pause adds ±25% jitter). */
const claimRetryMs = { first: 1000, max: 16_000 };

/** The journal kind of a reimage's install in its own boot. */
const installKind = 'reimage-install';

/** How long a reboot waits for the spool to reach the broker, so the manager hears "rebooting" first. */
const drainWaitMs = 10_000;

export class CommandExecutor {
  private readonly deps: CommandExecutorDeps;
  private readonly now: () => Date;
  private readonly managerClock: ManagerClock;
  private readonly pause: (ms: number) => Promise<void>;
  /** Ids being claimed: a redelivery meanwhile is the same command. */
  private readonly claiming = new Set<string>();

  constructor(deps: CommandExecutorDeps) {
    this.deps = deps;
    this.now = deps.now ?? (() => new Date());
    this.managerClock = deps.managerClock ?? new ManagerClock();
    // Jittered: a fleet whose manager is away does not come back to it in step.
    this.pause = deps.pause ?? ((ms) => sleep(ms * (0.75 + Math.random() * 0.5)));
  }

  private report(commandId: string, phase: CommandPhase, message: string, extra: { percent?: number; verifiedSha256?: string; acceptance?: MessageInitShape<typeof AcceptanceFactsSchema> } = {}): void {
    const payload = toBinary(CommandProgressSchema, create(CommandProgressSchema, { commandId, at: timestampFromDate(this.now()), phase, message, ...extra }));
    this.deps.spool.append('progress', payload);
    this.deps.onSpooled();
  }

  private async drained(): Promise<void> {
    for (let waited = 0; this.deps.spool.size() > 0 && waited < drainWaitMs; waited += 100) await sleep(100);
  }

  private get bootId(): string {
    return this.deps.machine.bootId();
  }

  /** One delivery from the broker. Never throws: failures are reported to the manager. */
  async handle(payload: Uint8Array): Promise<void> {
    const decoded = decodeCommand(payload);
    if (!decoded.ok) {
      this.refuse(decoded.commandId, decoded.error, payload);
      return;
    }
    const { commandId, command } = decoded;
    const log = this.deps.logger.child({ commandId, kind: command.kind });
    if (commandId === this.deps.boot.commandId) {
      log.info('this boot is that reimage; its result is reported from here');
      return;
    }
    const { claim } = this.deps;
    if (claim && decoded.expiresAt) {
      if (this.deps.spool.commandRecorded(commandId) || this.claiming.has(commandId)) {
        log.info('duplicate delivery of a command already started; ignored');
        return;
      }
      this.claiming.add(commandId);
      try {
        const refusal = await this.claimed(commandId, command, decoded.expiresAt, claim, log);
        if (refusal === 'stopped') return; // the next agent process claims it again at its redelivery
        if (refusal) {
          this.refuse(commandId, refusal.reason, payload, refusal.phase);
          return;
        }
      } finally {
        this.claiming.delete(commandId);
      }
    } else if (crashRecovery[command.kind] !== 'run-again' && this.deps.spool.journalLostAt()) {
      // A manager that takes no claims cannot say whether this node ran the command before the journal was lost.
      this.refuse(commandId, `journal lost, not repeated: the agent's spool was lost (corrupt or empty) at ${this.deps.spool.journalLostAt()?.toISOString()}, `
        + 'and this manager does not say whether this node took the command before; send it again from an up-to-date manager to run it', payload);
      return;
    }
    const recorded = this.deps.spool.startCommand({ key: commandId, kind: command.kind, payload, bootId: this.bootId }, this.now());
    if (recorded !== 'new') {
      log.info({ recorded }, 'duplicate delivery of a command already started; ignored');
      return;
    }
    log.info('executing command');
    this.report(commandId, CommandPhase.ACKED, 'received');
    await this.run(commandId, command, log);
  }

  /**
   * Claims the command from the manager, asking again while it cannot answer. Null: claimed, run it; 'stopped': the agent stopped first.
   * Otherwise why not, and how to report it: refused (withdrawn, unknown, past its deadline) or failed
   * (a power action this node claimed before that the journal does not know: it may have run).
   */
  private async claimed(commandId: string, command: AgentCommand, expiresAt: Date, claim: (id: string) => Promise<ClaimReply>, log: Logger):
    Promise<{ reason: string; phase: CommandPhase } | 'stopped' | null> {
    for (let pauseMs = claimRetryMs.first; ; pauseMs = Math.min(pauseMs * 2, claimRetryMs.max)) {
      if (this.deps.signal?.aborted) return 'stopped';
      const sentAt = this.managerClock.mark();
      let reply: ClaimReply | null = null;
      try {
        reply = await claim(commandId);
      } catch (error) {
        log.warn(failureFields(error), 'the manager did not answer the claim of a command; asking again');
      }
      if (reply) {
        if (reply.managerTime) this.managerClock.observe(reply.managerTime, sentAt);
        switch (reply.verdict) {
          case 'run':
            return null;
          case 'claimed-before':
            if (crashRecovery[command.kind] === 'run-again') return null;
            return { phase: CommandPhase.FAILED, reason: `not repeated: the manager says this node took the command before (${reply.reason}), and this agent's journal has no record of it `
              + '(its spool was lost, or it stopped between the claim and the journal), so whether it already ran is not known; send it again to run it' };
          case 'withdrawn':
          case 'unknown':
            return { phase: CommandPhase.REFUSED, reason: `not run: ${reply.reason}` };
        }
      }
      // Judged against the manager's clock only (a reference from an earlier answer): this node's clock is not asked.
      if (this.managerClock.passed(expiresAt)) {
        return { phase: CommandPhase.REFUSED, reason: `not run: its deadline (${expiresAt.toISOString()}, the manager's clock) passed before the manager could be asked` };
      }
      await this.pause(pauseMs);
    }
  }

  /** A command that does not fit, or may not run: reported (failed, or refused) with the reason (once), never run. */
  private refuse(commandId: string, error: string, payload: Uint8Array, phase = CommandPhase.FAILED): void {
    this.deps.logger.warn({ commandId, error }, 'command refused');
    if (commandId === '') return; // nothing to report it against; the manager gives up after its last delivery
    if (this.deps.spool.startCommand({ key: commandId, kind: 'refused', payload, bootId: this.bootId }, this.now()) !== 'new') return;
    this.report(commandId, phase, error);
    this.deps.spool.finishCommand(commandId);
  }

  private async run(commandId: string, command: AgentCommand, log: Logger): Promise<void> {
    // Each execution, on the record: a command id runs once per node, whatever the manager sends again.
    log.info('running the command');
    try {
      switch (command.kind) {
        case 'reimage': {
          const { imageName, imageVersion, bootScriptUrl, powerCycledByBmc } = command.args;
          if (powerCycledByBmc) {
            await this.deps.machine.flushDisks();
            this.report(commandId, CommandPhase.RUNNING, `disks flushed; the manager power-cycles this node into ${imageName}@${imageVersion} through its BMC`);
            this.deps.spool.finishCommand(commandId);
            return;
          }
          this.report(commandId, CommandPhase.RUNNING, `next boot from the network for ${imageName}@${imageVersion}; rebooting`);
          await this.drained();
          // Left unfinished: the reboot ends this boot. Interrupted before it, recover() runs it again in the same boot.
          await this.deps.machine.rebootIntoPxe(bootScriptUrl);
          return;
        }
        case 'reboot':
          this.report(commandId, CommandPhase.RUNNING, 'rebooting');
          await this.drained();
          // Left unfinished: recover() in the next boot reports it succeeded.
          await this.deps.machine.reboot();
          return;
        case 'reset-gpu':
          this.report(commandId, CommandPhase.RUNNING, `resetting GPU ${command.args.gpuIndex}`);
          await this.deps.machine.resetGpu(command.args.gpuIndex);
          this.report(commandId, CommandPhase.SUCCEEDED, `GPU ${command.args.gpuIndex} reset`);
          this.deps.spool.finishCommand(commandId);
          return;
        case 'accept': {
          if (!this.deps.acceptance) throw new Error('this agent cannot run acceptance tests');
          const { dcgmLevel, nccl, nvbandwidth } = command.args;
          this.report(commandId, CommandPhase.RUNNING, `acceptance suite: NVLinks${dcgmLevel > 0 ? `, dcgmi diag -r ${dcgmLevel}` : ''}${nccl ? ', all_reduce_perf' : ''}${nvbandwidth ? ', nvbandwidth' : ''}${command.args.stressSeconds > 0 ? `, gpu_burn ${command.args.stressSeconds} s` : ''}`);
          const facts = await this.deps.acceptance(command.args);
          this.report(commandId, CommandPhase.SUCCEEDED, 'acceptance suite ran; the manager judges it', { acceptance: acceptanceFactsMessage(facts) });
          this.deps.spool.finishCommand(commandId);
          return;
        }
      }
    } catch (error) {
      log.warn({ err: error }, 'command failed');
      this.report(commandId, CommandPhase.FAILED, error instanceof Error ? error.message : String(error));
      this.deps.spool.finishCommand(commandId);
    }
  }

  private recovering: Promise<void> | null = null;

  /** Once per start, before new work: what a crash or a reboot left started and not done, by kind (see the table above). */
  recover(): Promise<void> {
    this.recovering ??= this.recoverOnce().catch((error: unknown) => this.deps.logger.warn({ err: error }, 'recovering interrupted commands failed'));
    return this.recovering;
  }

  private async recoverOnce(): Promise<void> {
    const bootId = this.bootId;
    for (const entry of this.deps.spool.unfinishedCommands()) {
      if (entry.kind === installKind) continue; // reportBootResult() runs it again
      const decoded = decodeCommand(entry.payload);
      const log = this.deps.logger.child({ commandId: entry.key, kind: entry.kind });
      if (!decoded.ok) {
        // Refused, and killed before the refusal was finished: its report may not be in the spool, and a redelivery
        // finds the id started, so it is reported here (a second identical report changes nothing at the manager).
        this.report(entry.key, CommandPhase.FAILED, decoded.error);
        this.deps.spool.finishCommand(entry.key);
        continue;
      }
      if (entry.key === this.deps.boot.commandId) {
        // A reimage whose install boot this is goes on in reportBootResult().
        this.deps.spool.finishCommand(entry.key);
        continue;
      }
      const { command } = decoded;
      // Which boot it was started in is known only when both ids were read: '' compared with an id proves nothing.
      const bootUnknown = bootId === '' || entry.bootId === '';
      const sameBoot = !bootUnknown && entry.bootId === bootId;
      if (crashRecovery[command.kind] === 'run-again' && sameBoot) {
        log.info('command interrupted by an agent restart; running it again');
        await this.run(entry.key, command, log);
        continue;
      }
      const [phase, message] = this.interrupted(command, sameBoot, bootUnknown);
      log.info({ phase: CommandPhase[phase], message }, 'command interrupted; not repeated');
      this.report(entry.key, phase, message);
      this.deps.spool.finishCommand(entry.key);
    }
  }

  /** The result of a command a restart interrupted that is not run again: done when this boot proves it, otherwise not known. */
  private interrupted(command: AgentCommand, sameBoot: boolean, bootUnknown: boolean): [CommandPhase, string] {
    const notKnown = bootUnknown ? 'this machine does not say which boot it is in, so ' : '';
    switch (command.kind) {
      case 'reboot':
        if (bootUnknown) return [CommandPhase.FAILED, 'the agent restarted during the reboot; this machine does not say which boot it is in, so whether it rebooted is not known; not repeated'];
        return sameBoot
          ? [CommandPhase.FAILED, 'the agent restarted before the reboot took place (same boot); not repeated']
          : [CommandPhase.SUCCEEDED, 'rebooted: the agent is back in a new boot'];
      case 'reset-gpu':
        return [CommandPhase.FAILED, `the agent restarted during the reset; ${notKnown}whether GPU ${command.args.gpuIndex} was reset is not known; not repeated`];
      case 'accept':
        return [CommandPhase.FAILED, sameBoot
          ? 'the agent restarted during the acceptance suite; not run again without the manager asking'
          : 'the node booted again during the acceptance suite; not repeated in this boot'];
      case 'reimage':
        return [CommandPhase.FAILED, bootUnknown
          ? 'the agent restarted during the reimage and this machine does not say which boot it is in; not repeated'
          : 'the node booted again, but not into the network boot of this reimage'];
    }
  }

  /** In a boot started by a reimage: install the image, check it, and report that command's result (once). */
  reportBootResult(): Promise<void> {
    // Once per start (each broker connection asks): the journal carries it across restarts.
    this.installing ??= this.installOnce();
    return this.installing;
  }

  private installing: Promise<void> | null = null;

  private async installOnce(): Promise<void> {
    const { commandId, rootUrl, sha256, image } = this.deps.boot;
    if (!commandId) return;
    const key = `boot-result:${commandId}`;
    const recorded = this.deps.spool.startCommand({ key, kind: installKind, payload: new Uint8Array(), bootId: this.bootId }, this.now());
    if (recorded === 'done') return;
    const log = this.deps.logger.child({ commandId });
    // Writing the image and checking it can be done again: an install a crash interrupted starts over.
    if (recorded === 'started') log.info('image install interrupted by an agent restart; installing again');
    await this.install(commandId, rootUrl, sha256, image, log);
    this.deps.spool.finishCommand(key);
  }

  private async install(commandId: string, rootUrl: string | undefined, sha256: string | undefined, image: BootParameters['image'], log: Logger): Promise<void> {
    if (!rootUrl || !sha256) {
      this.report(commandId, CommandPhase.FAILED, 'booted without metalfleet.root and metalfleet.sha256 on the kernel command line');
      return;
    }
    const label = image ? `${image.name}@${image.version}` : 'the image';
    this.report(commandId, CommandPhase.RUNNING, `booted ${label}; installing ${rootUrl}`, { percent: 0 });
    let reported = 0;
    const onProgress = ({ bytes, total }: { bytes: number; total: number | null }) => {
      // Every tenth of the image: enough to see it move, few enough messages for a thousand nodes.
      const percent = total ? Math.floor((bytes / total) * 10) * 10 : 0;
      if (percent <= reported || percent >= 100) return;
      reported = percent;
      this.report(commandId, CommandPhase.RUNNING, `installing ${label}: ${bytes} of ${total ?? '?'} bytes`, { percent });
    };
    try {
      const installed = await this.deps.installImage(rootUrl, onProgress);
      if (installed.sha256 !== sha256.toLowerCase()) {
        log.warn({ expected: sha256, actual: installed.sha256 }, 'image checksum mismatch');
        this.report(commandId, CommandPhase.FAILED, `image checksum mismatch: expected ${sha256}, got ${installed.sha256} (${installed.detail})`, { verifiedSha256: installed.sha256 });
        return;
      }
      const nextBoot = await this.deps.machine.setNextBootToDisk();
      log.info({ sha256: installed.sha256, detail: installed.detail, nextBoot }, 'image installed and verified');
      this.report(commandId, CommandPhase.SUCCEEDED, `image installed and verified: ${installed.detail}; next boot: ${nextBoot}`, { percent: 100, verifiedSha256: installed.sha256 });
    } catch (error) {
      this.report(commandId, CommandPhase.FAILED, `image install failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** What the suite measured, as the SUCCEEDED report carries it (the manager judges it). */
function acceptanceFactsMessage(facts: AcceptanceFacts): MessageInitShape<typeof AcceptanceFactsSchema> {
  return {
    nvlinksRead: facts.nvlinks !== null,
    nvlinks: (facts.nvlinks ?? []).map((g) => ({ gpuIndex: g.gpuIndex, linkGbs: g.links.map((l) => l ?? 0) })),
    ...(facts.nccl ? { nccl: { busbwGbs: facts.nccl.busbwGBs, sizeBytes: BigInt(facts.nccl.sizeBytes), wrongResults: facts.nccl.wrongResults, devices: facts.nccl.devices, tool: facts.nccl.tool } } : {}),
    dcgmInstalled: facts.dcgm !== null,
    dcgm: (facts.dcgm ?? []).map((t) => ({ test: t.test, status: t.status, gpuIds: t.gpuIds, info: t.info })),
    outputs: facts.outputs,
    ...(facts.stress ? { stress: {
      tool: facts.stress.tool, seconds: facts.stress.seconds, sampled: facts.stress.sampled,
      gpus: facts.stress.gpus.map((g) => ({ index: g.index, result: g.result, errors: g.errors, hasPeakTemp: g.peakTempC !== null, peakTempC: g.peakTempC ?? 0,
        sampled: g.clockEvents !== null, clockEvents: g.clockEvents ?? [] })),
    } } : {}),
    ...(facts.copies ? { copies: {
      hostToDeviceMeasured: facts.copies.hostToDevice !== null, hostToDeviceGbs: facts.copies.hostToDevice?.gbs ?? 0, hostToDeviceGpu: facts.copies.hostToDevice?.gpu ?? 0,
      peerMeasured: facts.copies.peer !== null, peerGbs: facts.copies.peer?.gbs ?? 0, peerFrom: facts.copies.peer?.from ?? 0, peerTo: facts.copies.peer?.to ?? 0,
    } } : {}),
  };
}
