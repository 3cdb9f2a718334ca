// `metalfleet-agent run`: one agent for this machine, or many simulated nodes.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import {
  createRealBackend, createRealMachineControl, createSimulatedBackend, faultsFor, installTarget, type FaultKind, type HardwareBackend,
} from '@metalfleet/hardware';
import { parseBootParameters } from '@metalfleet/domain';
import { SpoolFile, diskInstaller, downloadRetryFor, readCredential, runAgent, runSimulatedNode } from '@metalfleet/agent-runtime';
import type { AgentConfig } from '../config.ts';

/** Faults for simulated node `index`, re-read from the faults file each time (so tests and demos can inject live). */
function faultReader(file: string, index: number, logger: Logger): () => FaultKind[] {
  let reported = '';
  return () => {
    if (file === '') return [];
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && reported !== 'parse') {
        reported = 'parse';
        logger.warn({ file, err: error }, 'faults file unreadable; no faults applied');
      }
      return [];
    }
    const { faults, unknown } = faultsFor(index, parsed);
    if (unknown.length > 0 && reported !== unknown.join()) {
      reported = unknown.join();
      logger.warn({ file, unknown }, 'unknown fault names ignored');
    }
    return faults;
  };
}

export async function runAgents(config: AgentConfig, logger: Logger, version: string, signal: AbortSignal): Promise<number> {
  const { bootstrapToken, bootstrapTokenFile } = config;
  const readBootstrapToken = async () => {
    if (bootstrapToken !== '') return bootstrapToken;
    try {
      return (await readFile(bootstrapTokenFile, 'utf8')).trim();
    } catch (error) {
      throw new Error(`cannot read the bootstrap token file ${bootstrapTokenFile}: ${(error as Error).message}`, { cause: error });
    }
  };

  if (config.simulateKernelLogDir !== '') mkdirSync(config.simulateKernelLogDir, { recursive: true });
  const nodes: Array<{ backend: HardwareBackend; stateDir: string }> = config.simulate > 0
    ? Array.from({ length: config.simulate }, (_, i) => ({
      backend: createSimulatedBackend({
        seed: config.simulateSeed, index: i + 1, spec: { gpuModel: config.simulateGpuModel, gpuCount: config.simulateGpuCount },
        faults: faultReader(config.faultsFile, i + 1, logger),
        kernelLogFile: config.simulateKernelLogDir !== '' ? join(config.simulateKernelLogDir, `sim-${String(i + 1).padStart(3, '0')}.log`) : undefined,
      }),
      stateDir: join(config.stateDir, `sim-${String(i + 1).padStart(3, '0')}`),
    }))
    : [{ backend: createRealBackend({ expectedGpus: config.expectedGpus }), stateDir: config.stateDir }];

  logger.info({ manager: config.manager, nodes: nodes.length, simulated: config.simulate > 0 }, 'agent starting');
  const kernelCmdline = existsSync(config.kernelCmdline) ? readFileSync(config.kernelCmdline, 'utf8') : '';
  const boot = parseBootParameters(kernelCmdline);
  // A node with a saved credential has run here before: its spool cannot be missing unless it was lost.
  const spoolFile = new SpoolFile(join(config.stateDir, 'spool.db'), undefined, nodes.some(({ stateDir }) => readCredential(stateDir) !== null));
  const lost = spoolFile.recovery;
  if (lost) {
    logger.warn({ file: join(config.stateDir, 'spool.db'), reason: lost.reason, detail: lost.detail, quarantinedAs: lost.quarantinedAs },
      lost.quarantinedAs
        ? `spool ${join(config.stateDir, 'spool.db')} was corrupt (${lost.detail}); moved to ${lost.quarantinedAs} and started a new one: undelivered events in it are lost, and reboots and GPU resets issued before now are not run`
        : `spool ${join(config.stateDir, 'spool.db')} was ${lost.reason} (${lost.detail}); started a new one: reboots and GPU resets issued before now are not run`);
  }
  const results = await Promise.allSettled(nodes.map(({ backend, stateDir }) => {
    const options = {
      managerAddress: config.manager, backend, readBootstrapToken, version, logger, mqttProtocolVersion: config.mqttProtocolVersion,
      backoff: { initialMs: config.retryInitialMs, maxMs: config.retryMaxMs }, stateDir, caFile: config.caFile,
      spool: spoolFile.spool(basename(stateDir) || 'node', config.spoolMaxEntries), spoolLost: lost,
      healthIntervalMs: config.healthIntervalS * 1000, digestIntervalMs: config.digestIntervalS * 1000,
    };
    return config.simulate > 0
      ? runSimulatedNode({ ...options, rebootMs: config.simulateRebootMs }, signal)
      : runAgent({ ...options, machine: createRealMachineControl(), boot, installImage: diskInstaller(() => installTarget(boot.disk ?? ''), signal, downloadRetryFor(boot.installWindowS)) }, signal);
  }));
  spoolFile.close();
  const failed = results.filter((r) => r.status === 'rejected');
  for (const f of failed) logger.fatal({ err: f.reason }, 'agent stopped on an error it cannot retry');
  return failed.length > 0 ? 1 : 0;
}
