// The high-availability topology of deploy/ha on one machine: a PostgreSQL of
// its own (or a given one), N manager replicas on it, a three-node NATS cluster
// as deploy/ha/nats ships it, and simulated nodes. Used by `npm run ha` (to
// try it) and by the HA bench (takeover after kill -9, ingest with N replicas).
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeList } from '@metalfleet/api';
import { issueServerCertificate } from '@metalfleet/manager-transport';
import { ManagerProcess } from './manager.ts';
import { natsPorts, natsUrls, startNatsCluster, type NatsCluster } from './nats.ts';
import { PrivatePostgres } from './postgres.ts';
import { agentBin, start, type Proc } from './processes.ts';

/** How many nodes the fleet has, and how many of them are online (from the API's totals). */
export async function fleetCounts(replica: ManagerProcess): Promise<{ registered: number; online: number }> {
  const [all, online] = await Promise.all([
    replica.get<NodeList>('/api/v1/nodes?limit=1'), replica.get<NodeList>('/api/v1/nodes?limit=1&presence=online'),
  ]);
  return { registered: all.total, online: online.total };
}

export interface HaTopology {
  postgresUrl: string;
  schema: string;
  replicas: ManagerProcess[];
  cluster: NatsCluster;
  agents: Proc[];
  /** Starts `count` more simulated nodes in agent processes spread over the replicas (at most 5,000 nodes each). */
  addNodes(count: number, options?: { seed?: string; extra?: string[] }): Proc[];
  stop(): Promise<void>;
}

export interface HaOptions {
  dir: string;
  replicas: number;
  /** An existing PostgreSQL (its schema is made); empty: a private one started here. */
  postgresUrl?: string;
  /** Extra manager flags, for every replica. */
  managerArgs?: string[];
  /** Node.js flags for every replica (e.g. --cpu-prof). */
  managerNodeOptions?: string[];
}

export async function startHaTopology(options: HaOptions): Promise<HaTopology> {
  let postgres: PrivatePostgres | null = null;
  let postgresUrl = options.postgresUrl ?? '';
  if (postgresUrl === '') {
    postgres = new PrivatePostgres();
    await postgres.init();
    postgresUrl = postgres.url;
  }
  // Nothing left behind by a start that failed half way (a broker that did not listen): what was started is stopped.
  const started: Array<{ stop(): Promise<unknown> }> = [];
  try {
    return await startOn(options, postgresUrl, postgres, started);
  } catch (error) {
    for (const part of started.reverse()) await part.stop().catch(() => undefined);
    await postgres?.destroy();
    throw error;
  }
}

async function startOn(options: HaOptions, postgresUrl: string, postgres: PrivatePostgres | null, started: Array<{ stop(): Promise<unknown> }>): Promise<HaTopology> {
  const schema = `metalfleet_ha_${process.pid}`;
  const ports = await natsPorts(3);
  const urls = natsUrls(ports);
  const common = ['--postgres-url', postgresUrl, '--postgres-schema', schema, '--mqtt-url', urls.mqtt, '--nats-url', urls.nats, ...(options.managerArgs ?? [])];
  const names = Array.from({ length: options.replicas }, (_, i) => String.fromCharCode(97 + i));
  const replicaArgs = (name: string) => [...common, '--replica-id', name];
  const first = new ManagerProcess(join(options.dir, names[0]!), replicaArgs(names[0]!), options.managerNodeOptions);
  started.push(first);
  await first.start();
  const ca = { certPem: readFileSync(first.caFile, 'utf8'), keyPem: readFileSync(join(first.dataDir, 'pki', 'ca.key'), 'utf8'), fingerprint: '' };
  const cluster = await startNatsCluster(ports, {
    accountsFile: join(first.dataDir, 'pki', 'nats-accounts.conf'), caFile: first.caFile, server: await issueServerCertificate(ca, ['127.0.0.1', 'localhost'], 397, true),
  });
  const replicas = [first];
  for (const name of names.slice(1)) {
    // A replica's data directory is the first one's, less what is each replica's own (deploy/ha/README.md).
    cpSync(first.dataDir, join(options.dir, name), { recursive: true, filter: (path) => !/(manager\.lock|lock\.key|clock\.json)$/.test(path) });
    const replica = new ManagerProcess(join(options.dir, name), replicaArgs(name), options.managerNodeOptions).onExistingState();
    started.push(replica);
    await replica.start();
    replicas.push(replica);
  }
  const agents: Proc[] = [];
  let added = 0;
  return {
    postgresUrl,
    schema,
    replicas,
    cluster,
    agents,
    addNodes(count, { seed = 'ha', extra = [] } = {}) {
      const started: Proc[] = [];
      // As many agent processes at each replica (each registers at its own), at most 5,000 nodes each: 20,000 in four
      // gave one replica twice the registrations of the others.
      const processes = replicas.length * Math.max(1, Math.ceil(count / (5000 * replicas.length)));
      for (let p = 0; p < processes; p++) {
        const size = Math.floor(count / processes) + (p < count % processes ? 1 : 0);
        if (size === 0) continue;
        const replica = replicas[agents.length % replicas.length]!;
        const stateDir = join(options.dir, 'agents', String(agents.length));
        mkdirSync(stateDir, { recursive: true });
        const agent = start(agentBin, ['--manager', replica.grpc, '--bootstrap-token-file', replica.tokenFile, '--simulate', String(size),
          '--simulate-seed', `${seed}-${added}`, '--state-dir', stateDir, '--kernel-cmdline', '/nonexistent', ...extra]);
        added += 1;
        agents.push(agent);
        started.push(agent);
      }
      return started;
    },
    async stop() {
      for (const agent of agents) await agent.stop('SIGKILL');
      for (const replica of replicas) await replica.stop();
      await cluster.stop();
      await postgres?.destroy();
    },
  };
}
