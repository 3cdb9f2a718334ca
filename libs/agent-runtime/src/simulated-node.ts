// A simulated machine around the agent: when a command reboots it, the agent
// stops (power off), the machine waits (POST, image write) and boots again —
// from the network when asked: like iPXE it fetches this node's boot script
// from the manager and boots with the kernel command line in it. The same
// protocol as a real node, without the hardware.
//
// The boot the simulated machine is in is kept in its state dir: a simulator
// process killed and started again is an agent restarted in the same boot (as
// systemd restarts a crashed agent), not a power cycle. The file goes when the
// simulated machine reboots; started while it is off, the machine boots from disk.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kernelCmdlineOf, parseBootParameters, type BootParameters } from '@metalfleet/domain';
import { runAgent, type AgentOptions } from './agent.ts';
import { forgetCredential } from './credential-file.ts';
import type { MachineControl } from './machine-control.ts';

export interface SimulatedNodeOptions extends Omit<AgentOptions, 'machine' | 'boot'> {
  /** Time a reboot takes (power cycle, firmware, image write). */
  rebootMs: number;
}

/** What simulated firmware boots from the network: the kernel command line of this node's iPXE script. */
export async function simulatedNetworkBoot(bootScriptUrl: string, signal: AbortSignal): Promise<BootParameters> {
  const response = await fetch(bootScriptUrl, { signal });
  if (!response.ok) throw new Error(`network boot: ${bootScriptUrl} answered HTTP ${response.status}`);
  const cmdline = kernelCmdlineOf(await response.text());
  return cmdline === null ? {} : parseBootParameters(cmdline);
}

interface SimulatedBoot {
  id: string;
  boot: BootParameters;
}

function bootFile(stateDir: string): string {
  return join(stateDir, 'simulated-boot.json');
}

function currentBoot(stateDir: string): SimulatedBoot | null {
  try {
    const saved = JSON.parse(readFileSync(bootFile(stateDir), 'utf8')) as Partial<SimulatedBoot>;
    return typeof saved.id === 'string' && typeof saved.boot === 'object' && saved.boot !== null ? { id: saved.id, boot: saved.boot } : null;
  } catch {
    return null;
  }
}

function powerOn(stateDir: string, boot: BootParameters): SimulatedBoot {
  const current = { id: randomUUID(), boot };
  writeFileSync(bootFile(stateDir), JSON.stringify(current), { mode: 0o600 });
  return current;
}

export async function runSimulatedNode(options: SimulatedNodeOptions, signal: AbortSignal): Promise<void> {
  mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
  let current = currentBoot(options.stateDir) ?? powerOn(options.stateDir, {});
  while (!signal.aborted) {
    const { boot } = current;
    const power = new AbortController();
    let networkBoot: string | null = null;
    const machine: MachineControl = {
      async rebootIntoPxe(bootScriptUrl) {
        networkBoot = bootScriptUrl;
        power.abort();
      },
      async reboot() {
        power.abort();
      },
      async flushDisks() {
        // Nothing buffered on a simulated disk.
      },
      async setNextBootToDisk() {
        return 'simulated firmware boots what the manager\'s boot script says';
      },
      bootId: () => current.id,
      async resetGpu(index) {
        // Simulated GPUs have nothing to reset; injected faults stay until the faults file clears them.
        options.logger.info({ hardware: options.backend.label, gpu: index }, 'simulated GPU reset');
      },
    };
    const token = boot.token;
    await runAgent({ ...options, machine, boot, readBootstrapToken: token ? async () => token : options.readBootstrapToken }, AbortSignal.any([signal, power.signal]));
    if (signal.aborted) return;
    options.logger.info({ hardware: options.backend.label, network: networkBoot !== null }, 'simulated reboot');
    rmSync(bootFile(options.stateDir), { force: true });
    await sleep(options.rebootMs, undefined, { signal }).catch(() => undefined);
    if (signal.aborted) return;
    const url: string | null = networkBoot;
    if (url === null) {
      current = powerOn(options.stateDir, {});
      continue;
    }
    let next: BootParameters = {};
    // Firmware retries the network boot until it gets a script (the manager may be restarting).
    for (let attempt = 0; !signal.aborted; attempt += 1) {
      try {
        next = await simulatedNetworkBoot(url, signal);
        break;
      } catch (error) {
        // The boot endpoint down (the manager restarting) is expected here: one line, no stack.
        const reason = error instanceof Error ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ''}` : String(error);
        options.logger.warn({ reason, attempt }, 'simulated network boot failed; retrying');
        await sleep(Math.min(10_000, 500 * 2 ** attempt), undefined, { signal }).catch(() => undefined);
      }
    }
    if (signal.aborted) return;
    if (next.commandId) forgetCredential(options.stateDir);
    current = powerOn(options.stateDir, next);
  }
}
