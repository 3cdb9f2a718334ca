// Commands from the manager (topic `commands`, QoS 1): ack, report progress
// and the result through the spool (in order, across restarts), and carry each
// command id out once however often it is delivered. A reimage ends in a new
// boot: the agent there installs the root image, checks what it wrote, and
// reports the result for the command id on its kernel command line.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Logger } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BootParameters } from '@metalfleet/domain';
import { CommandPhase, CommandProgressSchema, CommandSchema, type Command } from '@metalfleet/proto';
import type { InstallImage } from './image-installer.ts';
import type { MachineControl } from './machine-control.ts';
import type { Spool } from './spool.ts';

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
  now?: () => Date;
}

/** How long a reboot waits for the spool to reach the broker, so the manager hears "rebooting" first. */
const drainWaitMs = 10_000;

export class CommandExecutor {
  private readonly deps: CommandExecutorDeps;
  private readonly now: () => Date;

  constructor(deps: CommandExecutorDeps) {
    this.deps = deps;
    this.now = deps.now ?? (() => new Date());
  }

  private report(commandId: string, phase: CommandPhase, message: string, extra: { percent?: number; verifiedSha256?: string } = {}): void {
    const payload = toBinary(CommandProgressSchema, create(CommandProgressSchema, { commandId, at: timestampFromDate(this.now()), phase, message, ...extra }));
    this.deps.spool.append('progress', payload);
    this.deps.onSpooled();
  }

  private async drained(): Promise<void> {
    for (let waited = 0; this.deps.spool.size() > 0 && waited < drainWaitMs; waited += 100) await sleep(100);
  }

  /** One delivery from the broker. Never throws: failures are reported to the manager. */
  async handle(payload: Uint8Array): Promise<void> {
    let command: Command;
    try {
      command = fromBinary(CommandSchema, payload);
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'undecodable command ignored');
      return;
    }
    const { commandId } = command;
    const log = this.deps.logger.child({ commandId, kind: command.kind.case });
    if (commandId === '' || command.kind.case === undefined) {
      log.warn('command without an id or a kind ignored');
      return;
    }
    if (commandId === this.deps.boot.commandId) {
      log.info('this boot is that reimage; its result is reported from here');
      return;
    }
    if (!this.deps.spool.firstDelivery(commandId, this.now())) {
      log.info('duplicate delivery of a command already carried out; ignored');
      return;
    }
    log.info('executing command');
    this.report(commandId, CommandPhase.ACKED, 'received');
    try {
      switch (command.kind.case) {
        case 'reimage': {
          const { imageName, imageVersion, bootScriptUrl, powerCycledByBmc } = command.kind.value;
          if (powerCycledByBmc) {
            await this.deps.machine.flushDisks();
            this.report(commandId, CommandPhase.RUNNING, `disks flushed; the manager power-cycles this node into ${imageName}@${imageVersion} through its BMC`);
            return;
          }
          this.report(commandId, CommandPhase.RUNNING, `next boot from the network for ${imageName}@${imageVersion}; rebooting`);
          await this.drained();
          await this.deps.machine.rebootIntoPxe(bootScriptUrl);
          return;
        }
        case 'reboot':
          this.report(commandId, CommandPhase.SUCCEEDED, 'rebooting');
          await this.drained();
          await this.deps.machine.reboot();
          return;
        case 'resetGpu':
          this.report(commandId, CommandPhase.RUNNING, `resetting GPU ${command.kind.value.gpuIndex}`);
          await this.deps.machine.resetGpu(command.kind.value.gpuIndex);
          this.report(commandId, CommandPhase.SUCCEEDED, `GPU ${command.kind.value.gpuIndex} reset`);
          return;
      }
    } catch (error) {
      log.warn({ err: error }, 'command failed');
      this.report(commandId, CommandPhase.FAILED, error instanceof Error ? error.message : String(error));
    }
  }

  /** In a boot started by a reimage: install the image, check it, and report that command's result (once). */
  async reportBootResult(): Promise<void> {
    const { commandId, rootUrl, sha256, image } = this.deps.boot;
    if (!commandId || !this.deps.spool.firstDelivery(`boot-result:${commandId}`, this.now())) return;
    const log = this.deps.logger.child({ commandId });
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
