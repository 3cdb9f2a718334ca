// metalfleet-agent: parse config, create the logger, run one agent (this
// machine) or many (simulated), stop on signals.
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { ConfigError } from '@metalfleet/config';
import { createRealBackend, createSimulatedBackend, type HardwareBackend } from '@metalfleet/hardware';
import { runAgent } from '@metalfleet/agent-runtime';
import packageJson from '../package.json' with { type: 'json' };
import { parseCommandLine } from './config.ts';

let config;
try {
  config = parseCommandLine(process.argv.slice(2), process.env, packageJson.version);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`metalfleet-agent: ${error.message}\n`);
  process.exit(2);
}

const logger = pino({ name: 'metalfleet-agent', level: config.logLevel, redact: ['*.credential', '*.password', '*.bootstrapToken'] });
const { bootstrapToken, bootstrapTokenFile } = config;
const readBootstrapToken = async () => {
  if (bootstrapToken !== '') return bootstrapToken;
  try {
    return (await readFile(bootstrapTokenFile, 'utf8')).trim();
  } catch (error) {
    throw new Error(`cannot read the bootstrap token file ${bootstrapTokenFile}: ${(error as Error).message}`, { cause: error });
  }
};

const backends: HardwareBackend[] = config.simulate > 0
  ? Array.from({ length: config.simulate }, (_, i) => createSimulatedBackend({ seed: config.simulateSeed, index: i + 1 }))
  : [createRealBackend()];

const stop = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop.abort());

logger.info({ manager: config.manager, nodes: backends.length, simulated: config.simulate > 0 }, 'agent starting');
const results = await Promise.allSettled(backends.map((backend) => runAgent({
  managerAddress: config.manager, backend, readBootstrapToken, version: packageJson.version, logger,
  mqttProtocolVersion: config.mqttProtocolVersion, backoff: { initialMs: config.retryInitialMs, maxMs: config.retryMaxMs },
}, stop.signal)));
const failed = results.filter((r) => r.status === 'rejected');
for (const f of failed) logger.fatal({ err: f.reason }, 'agent stopped on an error it cannot retry');
process.exit(failed.length > 0 ? 1 : 0);
