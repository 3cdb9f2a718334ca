// metalfleet-agent: `run` (the default) registers and reports; `inventory` and
// `health` print this machine's (or a saved) report and exit.
import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { addConfigOptions, ConfigError, processLogger, readConfig } from '@metalfleet/config';
import packageJson from '../package.json' with { type: 'json' };
import { AgentConfig, agentParsers, checkAgentConfig, kernelCmdlineValues } from './config.ts';
import { printHealth, printInventory, type ReportOptions } from './commands/report.ts';
import { runAgents } from './commands/run.ts';

const program = new Command('metalfleet-agent')
  .description('metalfleet agent: registers this node with the manager, reports inventory, health and telemetry, and keeps ' +
    'undelivered events in an on-disk spool. Options of `run` can also be set as METALFLEET_<OPTION> or in a --config file.')
  .version(packageJson.version);

const run = program.command('run', { isDefault: true }).description('register this node and report until stopped (default)');
addConfigOptions(run, AgentConfig).action(async () => {
  let config: AgentConfig;
  try {
    // The kernel command line is the lowest layer: flags, environment and the config file override it.
    const cmdlineFile = String(run.opts<Record<string, unknown>>()['kernelCmdline'] ?? process.env['METALFLEET_KERNEL_CMDLINE'] ?? '/proc/cmdline');
    const cmdline = existsSync(cmdlineFile) ? kernelCmdlineValues(readFileSync(cmdlineFile, 'utf8')) : {};
    config = checkAgentConfig(readConfig(run, AgentConfig, process.env, { values: cmdline, origin: cmdlineFile }, agentParsers));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`metalfleet-agent: ${error.message}\n`);
    process.exit(2);
  }
  const logger = await processLogger({ name: 'metalfleet-agent', level: config.logLevel, redact: ['*.credential', '*.password', '*.bootstrapToken', '*.registrationNonce'] });
  const stop = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop.abort());
  process.exit(await runAgents(config, logger, packageJson.version, stop.signal));
});

const recorded = (command: Command) => command
  .option('--json', 'print JSON', false)
  .option('--nvidia-smi-xml <file>', 'read a saved `nvidia-smi -q -x` instead of running nvidia-smi')
  .option('--nvidia-smi-csv <file>', 'read a saved `nvidia-smi --query-gpu=… --format=csv` instead')
  .option('--kmsg <file>', 'read a saved kernel log (dmesg, journalctl -k) instead of /dev/kmsg')
  .option('--expected-gpus <n>', 'GPUs this node must have');

recorded(program.command('inventory').description('print this machine\'s inventory'))
  .action(async (options: ReportOptions) => process.exit(await printInventory(options)));
recorded(program.command('health').description('print this machine\'s health conditions (exit 0 healthy, 1 warning, 2 critical)'))
  .action(async (options: ReportOptions) => process.exit(await printHealth(options)));

await program.parseAsync(process.argv);
