// The agent's configuration: one schema, from flags, METALFLEET_* variables and
// an optional file; read once and frozen.
import { Command } from 'commander';
import { Type, type Static } from 'typebox';
import { ConfigError, parseConfigFlags } from '@metalfleet/config';

export const AgentConfig = Type.Object({
  manager: Type.String({ default: '127.0.0.1:7471', description: 'gRPC address of the manager, host:port.' }),
  bootstrapToken: Type.String({ default: '', description: 'Bootstrap token (prefer the file or METALFLEET_BOOTSTRAP_TOKEN: flags show in ps).' }),
  bootstrapTokenFile: Type.String({ default: '', description: 'File holding the bootstrap token; waited for if it does not exist yet.' }),
  simulate: Type.Integer({ minimum: 0, maximum: 10000, default: 0, description: 'Run <n> simulated GPU nodes instead of reporting this machine.' }),
  simulateSeed: Type.String({ default: 'metalfleet-dev', description: 'Seed for simulated identities; the same seed gives the same machines.' }),
  mqttProtocolVersion: Type.Union([Type.Literal(4), Type.Literal(5)], { default: 4, description: 'MQTT protocol: 4 (3.1.1, what the embedded broker speaks) or 5.' }),
  retryInitialMs: Type.Integer({ minimum: 10, default: 1000, description: 'First delay before retrying registration.' }),
  retryMaxMs: Type.Integer({ minimum: 10, default: 30000, description: 'Longest delay between registration attempts.' }),
  logLevel: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], { default: 'info', description: 'Log level.' }),
});
export type AgentConfig = Static<typeof AgentConfig>;

export function parseCommandLine(argv: readonly string[], env: Record<string, string | undefined>, version: string): AgentConfig {
  const program = new Command('metalfleet-agent')
    .description('metalfleet agent: registers this node with the manager, reports inventory, health and telemetry.\n' +
      'Every option can also be set as METALFLEET_<OPTION> (e.g. METALFLEET_MANAGER) or in the --config file.')
    .version(version);
  const config = parseConfigFlags(program, AgentConfig, argv, env);
  if (config.bootstrapToken === '' && config.bootstrapTokenFile === '') {
    throw new ConfigError(['bootstrapToken: set --bootstrap-token-file, METALFLEET_BOOTSTRAP_TOKEN or --bootstrap-token']);
  }
  return config;
}
