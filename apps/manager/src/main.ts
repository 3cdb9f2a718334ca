// metalfleet-manager: parse config, create the logger, start, stop on signals.
import { ConfigError, processLogger } from '@metalfleet/config';
import { SecretBoxError } from '@metalfleet/fleet';
import { DataDirError, StoreConnectError } from '@metalfleet/store';
import packageJson from '../package.json' with { type: 'json' };
import { parseCommandLine } from './config.ts';
import { ListenError, listeningOn } from './listen-check.ts';
import { startManager } from './manager.ts';

let config;
try {
  config = parseCommandLine(process.argv.slice(2), process.env, packageJson.version);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`metalfleet-manager: ${error.message}\n`);
  process.exit(2);
}

const logger = await processLogger({ name: 'metalfleet-manager', level: config.logLevel, redact: ['*.bootstrapToken', '*.credential', '*.password', '*.registrationNonce'] });
let manager;
try {
  manager = await startManager(config, logger, packageJson.version);
} catch (error) {
  // Sealed BMC passwords that the key at hand cannot open (say which key is needed), a port
  // another process holds (say which option), a data directory another manager holds, or a
  // database that is missing, empty or damaged (say what to do): one line, and do not start.
  // A PostgreSQL that did not answer within --store-connect-timeout-s: one line too, and exit status 1 (try again later).
  if (!(error instanceof SecretBoxError) && !(error instanceof ListenError) && !(error instanceof DataDirError) && !(error instanceof StoreConnectError)) throw error;
  logger.fatal({ code: error.code }, error.message);
  process.stderr.write(`metalfleet-manager: ${error.message}\n`);
  process.exit(error instanceof StoreConnectError ? 1 : 2);
}
logger.info({ listening: listeningOn(config.listenHost), acceptance: config.acceptance, http: manager.http, boot: manager.boot, caFile: manager.caFile, grpc: manager.grpc, mqtt: manager.mqtt, bootstrapTokenFile: manager.bootstrapTokenFile, adminTokenFile: manager.adminTokenFile, caFingerprint: manager.caFingerprint }, 'manager ready');

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    manager.close().then(() => process.exit(0), (error: unknown) => {
      logger.error({ err: error }, 'unclean stop');
      process.exit(1);
    });
  });
}
