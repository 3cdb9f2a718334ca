// Commands from the manager (topic `commands`, QoS 1): ack, report progress
// and the result through the spool (in order, across restarts), and carry each
// command id out once however often it is delivered. A reimage ends in a new
// boot: the agent there reports the result for the command id on its kernel
// command line, after verifying the image.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Logger } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BootParameters } from '@metalfleet/domain';
import { CommandPhase, CommandProgressSchema, CommandSchema, type Command } from '@metalfleet/proto';
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
  verifyImage: (url: string) => Promise<string>;
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
          const { imageName, imageVersion, bootScriptUrl } = command.kind.value;
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

  /** In a boot started by a reimage: verify the image and report that command's result (once). */
  async reportBootResult(): Promise<void> {
    const { commandId, rootUrl, sha256, image } = this.deps.boot;
    if (!commandId || !this.deps.spool.firstDelivery(`boot-result:${commandId}`, this.now())) return;
    const log = this.deps.logger.child({ commandId });
    if (!rootUrl || !sha256) {
      this.report(commandId, CommandPhase.FAILED, 'booted without metalfleet.root and metalfleet.sha256 on the kernel command line');
      return;
    }
    this.report(commandId, CommandPhase.RUNNING, `booted ${image ? `${image.name}@${image.version}` : 'an image'}; verifying ${rootUrl}`, { percent: 50 });
    try {
      const actual = await this.deps.verifyImage(rootUrl);
      if (actual !== sha256.toLowerCase()) {
        log.warn({ expected: sha256, actual }, 'image checksum mismatch');
        this.report(commandId, CommandPhase.FAILED, `image checksum mismatch: expected ${sha256}, got ${actual}`, { verifiedSha256: actual });
        return;
      }
      log.info({ sha256: actual }, 'image verified');
      this.report(commandId, CommandPhase.SUCCEEDED, 'image verified', { percent: 100, verifiedSha256: actual });
    } catch (error) {
      this.report(commandId, CommandPhase.FAILED, `image verification failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
