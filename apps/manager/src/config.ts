// The manager's configuration: one schema, read once from flags, METALFLEET_*
// variables and an optional file, its structured values parsed, then frozen
// and passed down. A bad value stops the manager here, before it writes anything.
import { Command } from 'commander';
import { Type } from 'typebox';
import { AlertRulesFile, SkuProfilesFile } from '@metalfleet/api';
import {
  ConfigError, hostList, httpUrlList, mqttUrlList, natsUrlList, loadDataFile, optionalHost, optionalHttpUrl, parseConfigFlags, type ParsedConfig,
} from '@metalfleet/config';
import { parseImageRef, parseMaintenanceWindows, parsePool, vlanRange, vniRange } from '@metalfleet/domain';
import { parseOvsdbSwitches } from '@metalfleet/fabric';
import { parseBmcNetworks } from '@metalfleet/fleet';

const Port = (def: number, description: string) => Type.Integer({ minimum: 0, maximum: 65535, default: def, description });
/**
 * The longest duration in seconds an option may give: they become Node timers, which hold at most
 * 2^31-1 ms (about 24.8 days) and run a longer one every millisecond; and deadlines, which must stay dates.
 */
const maxDurationS = Math.floor((2 ** 31 - 1) / 1000);

export const ManagerConfig = Type.Object({
  dataDir: Type.String({ default: './data', description: 'State directory: SQLite database, CA, bootstrap token.' }),
  postgresUrl: Type.String({ default: '', description: 'PostgreSQL connection string for fleet state (high availability); empty: SQLite in the data directory.' }),
  postgresSchema: Type.String({ default: 'metalfleet', pattern: '^[a-z_][a-z0-9_]*$', description: 'PostgreSQL schema for fleet state.' }),
  storeConnectTimeoutS: Type.Number({
    exclusiveMinimum: 0, maximum: maxDurationS, default: 60,
    description: 'How long a start waits for PostgreSQL to answer (retrying with backoff, a log line per attempt) before it gives up with exit status 1.',
  }),
  replicaId: Type.String({ default: '', maxLength: 200, description: 'This manager among replicas sharing one PostgreSQL (unique; empty: <hostname>:<data directory>, so a restarted replica takes its work back at once). Work (node shards, singleton loops) is shared through leases in the store.' }),
  leaseTtlS: Type.Number({ minimum: 3, maximum: 600, default: 15, description: 'Lease period of a replica\'s work: a dead replica\'s work is taken over within it; a replica that cannot renew stops acting a fifth of it (at least 1 s) before.' }),
  secretKeyFile: Type.String({ default: '', description: 'Key that seals the BMC passwords kept in the state store (created, mode 600, on first start); keep it apart from the database and its backups. Empty: <dataDir>/secret.key.' }),
  bmcNetworks: Type.String({
    default: '',
    description: 'CIDR ranges (comma separated, e.g. 10.1.0.0/16) that BMC addresses set by operators must fall in; admins may set any address. Empty: only admins set BMC addresses.',
  }),
  listenHost: Type.String({ default: '127.0.0.1', description: 'Address the HTTP, gRPC, MQTT and boot listeners bind to. The default, 127.0.0.1, is this machine only (a demo, a trial); 0.0.0.0 (every address) or the address nodes and operators reach it at for a fleet.' }),
  httpPort: Port(7470, 'REST API, dashboard and /healthz, over HTTPS unless --http-tls false (0: any free port).'),
  bootPort: Port(7473, 'Network boot endpoint for iPXE firmware, plain HTTP: /boot/ipxe and /images/ only, no API (0: any free port).'),
  grpcPort: Port(7471, 'gRPC AgentService (0: any free port).'),
  mqttPort: Port(7472, 'Embedded MQTT broker (0: any free port). 1883 is left to site brokers.'),
  advertiseHost: Type.String({ default: '', description: 'MQTT host told to agents; empty: the host they reached gRPC on.' }),
  influxUrl: Type.String({ default: '', description: 'InfluxDB 1.x URL (e.g. http://127.0.0.1:8086) to also write telemetry to; empty: embedded rollups only.' }),
  influxDatabase: Type.String({ default: 'metalfleet', description: 'InfluxDB database for telemetry (created if missing).' }),
  tls: Type.Boolean({ default: true, description: 'gRPC and MQTT over TLS, with a CA the manager creates in <dataDir>/pki on first start.' }),
  mqttUrl: Type.String({ default: '', description: 'External MQTT broker(s) the nodes and every manager replica use instead of the embedded one: mqtts://host:port, comma separated (one per broker node; agents and replicas fail over between them). The broker checks nodes by their client certificates (implies --node-certificates; see deploy/ha). Empty: the embedded broker.' }),
  natsUrl: Type.String({ default: '', description: 'The external broker is a NATS cluster (nats-server with JetStream and its MQTT listener, deploy/ha/nats): its client ports, nats://host:port, comma separated. The replicas read nodes\' reports from a replicated JetStream stream and send commands over the --mqtt-url listeners; nodes get a NATS user token with their certificate. Needs --mqtt-url.' }),
  nodeCertificates: Type.Boolean({ default: false, description: 'Give each node a client certificate signed by the manager\'s CA (common name = node id), renewed over mutual TLS: what an external broker, the gRPC listener and the embedded broker know the node by (a revoked one is refused); revoked ones are listed in <dataDir>/pki/nodes.crl. Needs --tls.' }),
  nodeCertificateTtlS: Type.Number({ minimum: 60, maximum: 90 * 86_400, default: 86_400, description: 'Lifetime of a node\'s client certificate (default a day); agents renew it when two thirds of it are gone.' }),
  httpTls: Type.Boolean({ default: true, description: 'REST API and dashboard over HTTPS, with a certificate from the manager\'s CA (clients trust <dataDir>/pki/ca.crt). false: plain HTTP, API tokens in clear; only behind a TLS proxy.' }),
  tlsHosts: Type.String({ default: '', description: 'Extra names and addresses (comma separated) for the server certificate; localhost, 127.0.0.1, the host name and --advertise-host are always in it.' }),
  initialTokenTtlH: Type.Number({ exclusiveMinimum: 0, maximum: 366 * 24, default: 168, description: 'Lifetime of the bootstrap token written to <dataDir>/bootstrap-token at start (at most 366 days, as through the API).' }),
  telemetryIntervalS: Type.Number({ exclusiveMinimum: 0, maximum: maxDurationS, default: 15, description: 'How often agents send telemetry (also their heartbeat).' }),
  heartbeatGraceS: Type.Number({ exclusiveMinimum: 0, maximum: maxDurationS, default: 45, description: 'A node silent for longer is shown offline.' }),
  offlineFailureGraceS: Type.Number({ exclusiveMinimum: 0, maximum: maxDurationS, default: 600, description: 'A node in service offline for longer is failed (and replaced).' }),
  inventoryIntervalS: Type.Number({ exclusiveMinimum: 0, maximum: maxDurationS, default: 3600, description: 'How often agents re-send their inventory.' }),
  healthIntervalS: Type.Number({ exclusiveMinimum: 0, maximum: maxDurationS, default: 30, description: 'How often agents evaluate health (changes are sent at once).' }),
  healthDigestIntervalS: Type.Number({ exclusiveMinimum: 0, maximum: maxDurationS, default: 300, description: 'How often agents send their full set of conditions.' }),
  maxPayloadBytes: Type.Integer({ minimum: 1024, default: 262144, description: 'Largest MQTT payload accepted from a node.' }),
  mqttMaxConnectionsPerAddress: Type.Integer({ minimum: 0, default: 1024, description: 'Concurrent MQTT connections from one source address (0: no limit); nodes behind one NAT share theirs, so leave room for them.' }),
  mqttMaxUnauthenticatedConnections: Type.Integer({ minimum: 0, default: 10000, description: 'Concurrent MQTT connections that have not authenticated yet, all addresses together (0: no limit); each holds about 64 KiB. Leave room for a power-on storm: every node of it waits here at once.' }),
  mqttMaxConcurrentConnects: Type.Integer({ minimum: 0, default: 64, description: 'MQTT connections set up at once (TLS handshake, CONNECT, credential check; 0: no limit). In a connect storm the rest wait their turn, so each handshake finishes instead of all of them timing out together.' }),
  grpcMaxConcurrentHandshakes: Type.Integer({ minimum: 0, default: 64, description: 'gRPC TLS handshakes at once (0: no limit); in a connect storm the rest wait their turn. With --tls false gRPC is plain and this does not apply.' }),
  connectWaitS: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 10, description: 'Longest a new MQTT or gRPC connection waits for its turn to be set up; then it is closed before any TLS work and the agent retries after a jittered backoff. Keep it below the agents\' connect timeouts (MQTT 30 s, trust check 10 s, gRPC 20 s).' }),
  maxConcurrentRegistrations: Type.Integer({ minimum: 0, default: 64, description: 'Most registrations processed at once (0: no limit). The number allowed follows the measured throughput, so that each takes about 3 s; beyond it a registration is refused as UNAVAILABLE with a retry-after hint.' }),
  registrationRetryAfterS: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 2, description: 'The shortest retry-after hint given with a refused registration: each refusal is given the next free slot in a line that moves on at half again the measured throughput (up to 1 min, or this when longer), so refused agents come back as fast as the manager registers (they add jitter).' }),
  mqttMaxUnauthenticatedPacketBytes: Type.Integer({ minimum: 1024, default: 8192, description: 'Largest MQTT packet a connection may announce before its CONNECT is authenticated; larger ones are cut before they are buffered.' }),
  grpcMaxMessageBytes: Type.Integer({ minimum: 1024, default: 4194304, description: 'Largest gRPC request accepted.' }),
  ovsdbSwitches: Type.String({ default: '', description: 'Open vSwitch switches to program over OVSDB, comma separated: <name>=<host>:<port> (name as the switch announces itself in LLDP).' }),
  vlanPool: Type.String({ default: '100-3999', description: 'VLANs given to tenants (first-last).' }),
  vniPool: Type.String({ default: '10000-99999', description: 'VXLAN VNIs given to tenants (first-last).' }),
  provisioningVlan: Type.Integer({ minimum: 1, maximum: 4094, default: 10, description: 'VLAN of the provisioning network (PXE, discovery, reimaging); never a tenant\'s.' }),
  fabricIntervalS: Type.Number({ exclusiveMinimum: 0, maximum: maxDurationS, default: 5, description: 'How often switch ports are compared with the plan (drift is repaired then; node moves apply at once).' }),
  publicUrl: Type.String({ default: '', description: 'The boot endpoint\'s URL as nodes reach it (boot scripts, images); empty: http://<advertise host or this host>:<boot port>.' }),
  dashboardUrl: Type.String({ default: '', description: 'The dashboard\'s URL as people reach it (links in alerts); empty: https://<advertise host or this host>:<http port>.' }),
  imageDir: Type.String({ default: '', description: 'Directory served at /images/ (kernels, initrds, root images); empty: <dataDir>/images.' }),
  discoveryTokenTtlS: Type.Integer({ minimum: 1, maximum: maxDurationS, default: 900, description: 'Lifetime of a discovery token the boot endpoint hands an unknown MAC (single use, bound to that MAC); also the window of the two limits below.' }),
  discoveryTokensPerMac: Type.Integer({ minimum: 1, default: 3, description: 'Discovery tokens one MAC gets per token lifetime; beyond: HTTP 429 and a local-boot script.' }),
  discoveryTokensMax: Type.Integer({ minimum: 1, default: 100, description: 'Discovery tokens handed out per token lifetime, all MACs together; beyond: HTTP 429 and a local-boot script.' }),
  eventRetentionH: Type.Number({ exclusiveMinimum: 0, maximum: 24 * 365, default: 24, description: 'How long the event journal keeps events: how far back a client reconnecting with Last-Event-ID is given what it missed.' }),
  bootTokenPurgeIntervalS: Type.Number({ exclusiveMinimum: 0, maximum: maxDurationS, default: 60, description: 'How often expired boot-endpoint tokens (discovery, install), and events older than --event-retention-h, are deleted.' }),
  admitDiscovered: Type.Enum(['operator', 'bmc-enrollment', 'open'], { default: 'operator', description: 'When a machine registered through a discovery token may serve as a spare or in a tenant: operator (after an operator admits it), bmc-enrollment (also when it matches an enrollment made through its BMC), open (at once; labs only).' }),
  discoveryImage: Type.String({ default: '', description: 'Image (name@version) the boot endpoint gives machines it has no work for; empty: they boot from their disk.' }),
  reimageConcurrency: Type.Integer({ minimum: 1, default: 50, description: 'Most nodes being reimaged at once, fleet-wide.' }),
  reimagePerRack: Type.Integer({ minimum: 1, default: 4, description: 'Most nodes of one rack being reimaged at once.' }),
  reimagePerTenant: Type.Integer({ minimum: 1, default: 16, description: 'Most nodes of one tenant being reimaged at once.' }),
  maintenanceWindows: Type.String({ default: '', description: 'Daily UTC windows for planned reimaging, e.g. "02:00-06:00,22:00-23:00"; empty: any time. Replacements ignore them.' }),
  drainHookUrl: Type.String({ default: '', description: 'URL POSTed {nodeId, hostname, tenant, reason} before a node is taken down; a 2xx answer means drained (see deploy/slurm).' }),
  reimageBootTimeoutS: Type.Number({ exclusiveMinimum: 0, maximum: maxDurationS, default: 900, description: 'How long a node may take to reboot and report its new image before it is power-cycled, then failed.' }),
  reimageStepTimeoutS: Type.Number({ exclusiveMinimum: 0, maximum: maxDurationS, default: 600, description: 'How long the drain, network and health steps of a reimage may take.' }),
  maxPowerCycles: Type.Integer({ minimum: 0, default: 1, description: 'Power cycles through the BMC for an unresponsive node before its reimage fails.' }),
  commandAckTimeoutS: Type.Number({ exclusiveMinimum: 0, maximum: maxDurationS, default: 30, description: 'How long a command waits for the agent\'s ack before it is sent again.' }),
  commandMaxAttempts: Type.Integer({ minimum: 1, default: 3, description: 'Deliveries of a command before it is given up and escalated.' }),
  remediationCooldownS: Type.Number({ minimum: 0, maximum: maxDurationS, default: 3600, description: 'A software remedy (GPU reset, reboot, reimage) is not repeated on a node within this time.' }),
  acceptance: Type.Union([Type.Literal('off'), Type.Literal('on')], { default: 'on', description: 'on (the default): a node that passes inspection (or comes back from repair) runs the acceptance suite of its SKU before it joins the pool; a failed check sends it to repair; off: it joins the pool on its first clean health digest (docs/acceptance.md).' }),
  acceptanceAfterReimage: Type.Union([Type.Literal('off'), Type.Literal('on')], { default: 'off', description: 'on (needs --acceptance on): every reimaged node runs the acceptance suite in its new image, off its tenant\'s network, before it serves again; a failed suite fails the node (replaced).' }),
  acceptanceTimeoutS: Type.Number({ exclusiveMinimum: 0, maximum: maxDurationS, default: 14_400, description: 'How long an acknowledged acceptance suite may run before the node is sent to repair.' }),
  retireAfterAcceptanceFailures: Type.Integer({ minimum: 0, maximum: 100, default: 2, description: 'A node whose acceptance failed this many times since its first repair is retired (its evidence kept); 0: never.' }),
  skuProfilesFile: Type.String({ default: '', description: 'SKU profiles (YAML or JSON list, docs/acceptance.md) that come before the defaults for 8-GPU H100, H200 and A100 nodes; one of the same name replaces a default.' }),
  alertRulesFile: Type.String({ default: '', description: 'Alert rules (YAML or JSON list, see docs/alerting.md); empty: the default rules. Rules made through the API come on top.' }),
  alertIntervalS: Type.Number({ exclusiveMinimum: 0, maximum: maxDurationS, default: 5, description: 'How often alert rules are evaluated (also soon after every failure).' }),
  alertmanagerUrls: Type.String({ default: '', description: 'Prometheus Alertmanagers to send alerts to, comma separated (e.g. http://127.0.0.1:9093).' }),
  alertmanagerRefreshS: Type.Number({ exclusiveMinimum: 0, maximum: maxDurationS, default: 60, description: 'How often firing alerts are sent to Alertmanager again (they expire there after 4 of these).' }),
  alertWebhookUrls: Type.String({ default: '', description: 'URLs POSTed a JSON message per rule when alerts fire or resolve, comma separated.' }),
  slackWebhookUrls: Type.String({ default: '', description: 'Slack-compatible incoming webhooks for firing and resolved alerts, comma separated.' }),
  dashboardDir: Type.String({ default: '', description: 'Static dashboard files; empty: the bundled dashboard.' }),
  logLevel: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], { default: 'info', description: 'Log level.' }),
});

/** The alert rules file, read and checked at start. */
function alertRules(path: string) {
  if (path === '') return null;
  try {
    return { path, rules: loadDataFile(path, AlertRulesFile) };
  } catch (error) {
    throw error instanceof ConfigError ? new Error(error.problems.join('; ')) : error;
  }
}

function skuProfiles(path: string) {
  if (path === '') return null;
  try {
    return { path, profiles: loadDataFile(path, SkuProfilesFile) };
  } catch (error) {
    throw error instanceof ConfigError ? new Error(error.problems.join('; ')) : error;
  }
}

/** What each structured option becomes; the rest of the manager sees only these. */
const parsers = {
  bmcNetworks: parseBmcNetworks,
  listenHost: (text: string) => {
    const host = optionalHost(text);
    if (host === '') throw new Error('is empty (0.0.0.0: every address)');
    return host;
  },
  advertiseHost: optionalHost,
  tlsHosts: hostList,
  influxUrl: optionalHttpUrl,
  mqttUrl: mqttUrlList,
  natsUrl: natsUrlList,
  ovsdbSwitches: parseOvsdbSwitches,
  vlanPool: (text: string) => parsePool('VLAN', text, vlanRange),
  vniPool: (text: string) => parsePool('VNI', text, vniRange),
  publicUrl: optionalHttpUrl,
  dashboardUrl: optionalHttpUrl,
  discoveryImage: (text: string) => {
    if (text.trim() === '') return null;
    const ref = parseImageRef(text.trim());
    if (!ref) throw new Error(`"${text}" is not <name>@<version>`);
    return ref;
  },
  maintenanceWindows: (text: string) => {
    const parsed = parseMaintenanceWindows(text);
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.windows;
  },
  drainHookUrl: optionalHttpUrl,
  alertRulesFile: alertRules,
  skuProfilesFile: skuProfiles,
  alertmanagerUrls: httpUrlList,
  alertWebhookUrls: httpUrlList,
  slackWebhookUrls: httpUrlList,
} as const;

/**
 * The options, and `init`: whether this start may set up a new manager (--init). It is a flag only,
 * never a file key or variable, so a unit or config file cannot make every restart a fresh install.
 */
export type ManagerConfig = ParsedConfig<typeof ManagerConfig, typeof parsers> & {
  readonly init: boolean;
  /** Test hook, never an option: METALFLEET_TEST_HOOK_INIT_KILL_AFTER=<step> kills the manager (SIGKILL) after that step of --init. */
  readonly testHookInitKillAfter?: string;
};

/** Every port the manager listens on, with the option that sets it. */
export function listenerPorts(config: Pick<ManagerConfig, 'httpPort' | 'bootPort' | 'grpcPort' | 'mqttPort'>) {
  return {
    http: { option: '--http-port', port: config.httpPort },
    boot: { option: '--boot-port', port: config.bootPort },
    grpc: { option: '--grpc-port', port: config.grpcPort },
    mqtt: { option: '--mqtt-port', port: config.mqttPort },
  } as const;
}

/** Two listeners given one port: the second could never open. */
function checkPortsDiffer(config: ParsedConfig<typeof ManagerConfig, typeof parsers>): void {
  const taken = new Map<number, string>();
  for (const { option, port } of Object.values(listenerPorts(config))) {
    const other = taken.get(port);
    if (other !== undefined) throw new ConfigError([`${option} ${port}: the same port as ${other}`]);
    if (port !== 0) taken.set(port, option);
  }
}

export function parseCommandLine(argv: readonly string[], env: Record<string, string | undefined>, version: string): ManagerConfig {
  const program = new Command('metalfleet-manager')
    .description('metalfleet manager: fleet state, embedded MQTT broker, gRPC AgentService, REST API and dashboard.\n' +
      'Every option can also be set as METALFLEET_<OPTION> (e.g. METALFLEET_HTTP_PORT) or in the --config file.')
    .version(version)
    .option('--init', 'Set up a new manager: create the data directory\'s state (database, CA, tokens, key) or the PostgreSQL schema. ' +
      'Refused where there is one already; without it, a missing, empty or damaged database stops the start.');
  const config = parseConfigFlags(program, ManagerConfig, argv, env, parsers);
  checkPortsDiffer(config);
  if (config.nodeCertificates && !config.tls) throw new ConfigError(['--node-certificates: needs --tls (the certificates are signed by the CA --tls makes)']);
  if (config.mqttUrl.length > 0 && !config.tls) throw new ConfigError(['--mqtt-url: needs --tls (nodes prove themselves to the broker with certificates from the CA --tls makes)']);
  if (config.acceptanceAfterReimage === 'on' && config.acceptance !== 'on') throw new ConfigError(['--acceptance-after-reimage on: needs --acceptance on (the acceptance controller judges the suite)']);
  if (config.natsUrl.length > 0 && config.mqttUrl.length === 0) throw new ConfigError(['--nats-url: needs --mqtt-url, the MQTT listeners of the same NATS cluster (agents and commands use MQTT)']);
  const testHookInitKillAfter = env['METALFLEET_TEST_HOOK_INIT_KILL_AFTER'];
  return Object.freeze({
    ...config, init: program.opts<{ init?: boolean }>().init === true, ...(testHookInitKillAfter ? { testHookInitKillAfter } : {}),
  });
}
