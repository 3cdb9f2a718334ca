// metalfleet: the operator CLI over the manager's REST API.
// Exit codes: 0 ok, 1 API error, 2 usage error, 3 manager unreachable,
// 4 not authenticated or not allowed, 5 a waited-for operation failed,
// 130 stopped watching (Ctrl-C; the operation goes on).
import { Command } from 'commander';
import { ConfigError } from '@metalfleet/config/config-error';
import packageJson from '../package.json' with { type: 'json' };
import { ApiCallError, createApiClient } from './api-client.ts';
import { resolveSettings, save } from './cli-config.ts';
import { cliContext, exitCodes, UsageError } from './context.ts';
import { NotFoundError } from './resolve.ts';
import { inertText } from './terminal-text.ts';
import { registerAlerts } from './commands/alerts.ts';
import { registerFleetAdmin } from './commands/fleet-admin.ts';
import { registerIdentity } from './commands/identity.ts';
import { registerNodes } from './commands/nodes.ts';
import { registerOperations } from './commands/operations.ts';
import { registerProvisioning } from './commands/provisioning.ts';
import { registerSkuProfiles } from './commands/sku-profiles.ts';

// `metalfleet nodes ls --json | head`: the reader is gone, and so is the need to write; not a crash.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(exitCodes.ok);
  throw error;
});

const program = new Command('metalfleet')
  .description('Operate a metalfleet GPU fleet from the command line. Tables for people, --json for scripts.')
  .version(packageJson.version)
  .option('--manager <url>', 'manager URL (or METALFLEET_MANAGER, or the one `login` saved; default https://127.0.0.1:7470)')
  .option('--ca-file <file>', 'CA to verify the manager\'s HTTPS certificate with, the manager\'s <dataDir>/pki/ca.crt (or METALFLEET_CA_FILE, or the one `login` saved)')
  .option('--token <token>', 'API token (or METALFLEET_TOKEN, or the one `login` saved)')
  .option('--json', 'print JSON instead of a table', false)
  .showHelpAfterError()
  .exitOverride((error) => process.exit(error.exitCode === 0 ? exitCodes.ok : exitCodes.usage));

const ctx = cliContext(program);

program.command('login').description('check the manager URL, token and CA, and save them for later commands (mode 600)').action(async () => {
  const { manager, token, ca } = resolveSettings(program.opts<{ manager?: string; token?: string; caFile?: string }>());
  if (token === '') {
    process.stderr.write('metalfleet: login needs a token: --token <token> or METALFLEET_TOKEN (an admin finds the first one in <dataDir>/admin-token)\n');
    process.exit(exitCodes.usage);
  }
  await createApiClient(manager, token, ca).check();
  const file = save({ manager, token, ca });
  ctx.print({ manager, saved: file, ca: ca !== '' }, () => `logged in to ${manager}${ca !== '' ? ' (its CA saved too)' : ''}; saved in ${file}`);
});

registerNodes(program, ctx);
registerOperations(program, ctx);
registerFleetAdmin(program, ctx);
registerProvisioning(program, ctx);
registerAlerts(program, ctx);
registerIdentity(program, ctx);
registerSkuProfiles(program, ctx);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // A bad --manager or --ca-file (or its variable, or the saved login): a usage error, before any call.
  if (error instanceof ConfigError) {
    process.stderr.write(`metalfleet: ${error.message}\n`);
    process.exit(exitCodes.usage);
  }
  if (error instanceof UsageError) {
    process.stderr.write(`metalfleet: ${inertText(error.message)}\n`);
    process.exit(exitCodes.usage);
  }
  if (error instanceof NotFoundError) {
    process.stderr.write(`metalfleet: ${inertText(error.message)} (not-found)\n`);
    process.exit(exitCodes.apiError);
  }
  if (error instanceof ApiCallError) {
    // An API error's message may quote what a node sent.
    process.stderr.write(`metalfleet: ${inertText(error.message)} (${inertText(error.code)})\n`);
    process.exit(error.code === 'unavailable' && error.status === 0 ? exitCodes.unreachable
      : error.status === 401 || error.status === 403 ? exitCodes.notAllowed : exitCodes.apiError);
  }
  if (error instanceof Error) {
    process.stderr.write(`metalfleet: ${inertText(error.message)}\n`);
    process.exit(exitCodes.apiError);
  }
  throw error;
}
