// metalfleet: the operator CLI over the manager's REST API.
// Exit codes: 0 ok, 1 API error, 2 usage error, 3 manager unreachable,
// 4 not authenticated or not allowed.
import { Command } from 'commander';
import packageJson from '../package.json' with { type: 'json' };
import { ApiCallError, createApiClient } from './api-client.ts';
import { resolveSettings, save } from './cli-config.ts';
import { formatTable } from './table.ts';

const program = new Command('metalfleet')
  .description('Operate a metalfleet GPU fleet from the command line.')
  .version(packageJson.version)
  .option('--manager <url>', 'manager URL (or METALFLEET_MANAGER, or the one `login` saved; default http://127.0.0.1:7470)')
  .option('--token <token>', 'API token (or METALFLEET_TOKEN, or the one `login` saved)')
  .option('--json', 'print JSON instead of a table', false)
  .showHelpAfterError();

const settings = () => resolveSettings(program.opts<{ manager?: string; token?: string }>());
const client = () => {
  const { manager, token } = settings();
  return createApiClient(manager, token);
};
const asJson = () => program.opts<{ json: boolean }>().json;
const print = (value: unknown, human: () => string) => process.stdout.write(`${asJson() ? JSON.stringify(value, null, 2) : human()}\n`);

program.command('login').description('check the manager URL and token, and save them for later commands (mode 600)').action(async () => {
  const { manager, token } = settings();
  if (token === '') {
    process.stderr.write('metalfleet: login needs a token: --token <token> or METALFLEET_TOKEN (an admin finds the first one in <dataDir>/admin-token)\n');
    process.exit(2);
  }
  await createApiClient(manager, token).check();
  const file = save({ manager, token });
  print({ manager, saved: file }, () => `logged in to ${manager}; saved in ${file}`);
});

const nodes = program.command('nodes').description('nodes of the fleet');
nodes.command('ls').description('list nodes with their presence and state').action(async () => {
  const list = await client().listNodes();
  print(list, () => formatTable(
    ['ID', 'HOSTNAME', 'PRESENCE', 'STATE', 'SYSTEM UUID', 'LAST SEEN'],
    list.items.map((n) => [n.id, n.hostname, n.presence, n.state, n.identity.systemUuid || '-', n.lastSeenAt ?? '-']),
  ));
});
nodes.command('show').description('one node with its inventory').argument('<id>', 'node id').action(async (id: string) => {
  const node = await client().getNode(id);
  print(node, () => [
    `ID:        ${node.id}`, `Hostname:  ${node.hostname}`, `Presence:  ${node.presence}`, `State:     ${node.state}`,
    `UUID:      ${node.identity.systemUuid || '-'}`, `Serial:    ${node.identity.systemSerial || '-'}`,
    `MACs:      ${node.identity.macs.join(', ')}`,
    `System:    ${node.inventory.system.vendor} ${node.inventory.system.model}`.trimEnd(),
    `CPUs:      ${node.inventory.cpus.map((c) => c.model).join(', ')}`,
    `GPUs:      ${node.inventory.gpus.length} ${node.inventory.gpus[0]?.model ?? ''}`.trimEnd(),
  ].join('\n'));
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof ApiCallError) {
    process.stderr.write(`metalfleet: ${error.message} (${error.code})\n`);
    process.exit(error.code === 'unavailable' ? 3 : error.status === 401 || error.status === 403 ? 4 : 1);
  }
  throw error;
}
