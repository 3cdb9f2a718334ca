// The agent's configuration for `run`: one schema, from flags, METALFLEET_*
// variables and an optional file; read once and frozen.
import { Type } from 'typebox';
import { ConfigError, hostAndPort, type ParsedConfig } from '@metalfleet/config';
import { parseBootParameters } from '@metalfleet/domain';
import { defaultSimulationSeed } from '@metalfleet/hardware';

export const AgentConfig = Type.Object({
  manager: Type.String({ default: '127.0.0.1:7471', description: 'gRPC address of the manager, host:port.' }),
  bootstrapToken: Type.String({ default: '', description: 'Bootstrap token (prefer the file or METALFLEET_BOOTSTRAP_TOKEN: flags show in ps).' }),
  bootstrapTokenFile: Type.String({ default: '', description: 'File holding the bootstrap token; waited for if it does not exist yet.' }),
  caFile: Type.String({ default: '', description: 'CA certificate to verify the manager with; empty: the CA pinned by the bootstrap token.' }),
  kernelCmdline: Type.String({ default: '/proc/cmdline', description: 'Read metalfleet.* boot parameters (manager, token, the reimage this boot completes) from this file; the PXE boot script sets them.' }),
  stateDir: Type.String({ default: '/var/lib/metalfleet-agent', description: 'Where the agent keeps its spool of undelivered events.' }),
  spoolMaxEntries: Type.Integer({ minimum: 10, default: 10000, description: 'Most events kept while the manager is unreachable (oldest dropped first).' }),
  healthIntervalS: Type.Number({ exclusiveMinimum: 0, default: 30, description: 'How often health is evaluated until the manager sets it.' }),
  digestIntervalS: Type.Number({ exclusiveMinimum: 0, default: 300, description: 'How often the full set of conditions is sent until the manager sets it.' }),
  expectedGpus: Type.Integer({ minimum: 0, default: 0, description: 'GPUs this node must have; 0: as many as the PCI bus shows.' }),
  simulate: Type.Integer({ minimum: 0, maximum: 10000, default: 0, description: 'Run <n> simulated GPU nodes instead of reporting this machine.' }),
  simulateSeed: Type.String({ default: defaultSimulationSeed, description: 'Seed for simulated identities; the same seed gives the same machines. Host names: sim-001… for the default seed, <seed>-001… for a seed that is a plain host name label, sim-<hash>-001… otherwise.' }),
  simulateGpuModel: Type.String({ default: 'NVIDIA H100 80GB HBM3', description: 'GPU model of simulated nodes.' }),
  simulateGpuCount: Type.Integer({ minimum: 0, maximum: 16, default: 8, description: 'GPUs per simulated node.' }),
  simulateRebootMs: Type.Integer({ minimum: 0, default: 3000, description: 'How long a simulated node takes to reboot (power cycle, firmware, image write).' }),
  simulateKernelLogDir: Type.String({ default: '', description: 'Simulated nodes follow <dir>/sim-NNN.log as their kernel log (append an Xid line to inject one); empty: none.' }),
  faultsFile: Type.String({ default: '', description: 'JSON file of faults for simulated nodes, e.g. {"3": ["xid79-fallen-off-bus"]}; re-read every cycle.' }),
  mqttProtocolVersion: Type.Union([Type.Literal(4), Type.Literal(5)], { default: 4, description: 'MQTT protocol: 4 (3.1.1, what the embedded broker speaks) or 5.' }),
  retryInitialMs: Type.Integer({ minimum: 10, default: 1000, description: 'First delay before retrying registration.' }),
  retryMaxMs: Type.Integer({ minimum: 10, default: 30000, description: 'Longest delay between registration attempts.' }),
  logLevel: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], { default: 'info', description: 'Log level.' }),
});
/** Structured options, checked when the config is read: a bad one stops the agent before it starts. */
export const agentParsers = { manager: hostAndPort } as const;
export type AgentConfig = ParsedConfig<typeof AgentConfig, typeof agentParsers>;

export function checkAgentConfig(config: AgentConfig): AgentConfig {
  if (config.bootstrapToken === '' && config.bootstrapTokenFile === '') {
    throw new ConfigError(['bootstrapToken: set --bootstrap-token-file, METALFLEET_BOOTSTRAP_TOKEN or --bootstrap-token']);
  }
  return config;
}

/** `metalfleet.manager=host:port metalfleet.token=…` on the kernel command line, as config values. */
export function kernelCmdlineValues(cmdline: string): Record<string, string> {
  const { manager, token } = parseBootParameters(cmdline);
  return { ...(manager ? { manager } : {}), ...(token ? { bootstrapToken: token } : {}) };
}
