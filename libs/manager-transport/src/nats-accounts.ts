// The NATS side of node identity (--nats-url). NATS 2.9 has no certificate
// revocation list and no per-user pattern ACL in its configuration file; it
// has JWT accounts. The manager is their operator: it keeps the operator, the
// accounts and a signing key for nodes, and gives each node, beside its client
// certificate and with the same lifetime, a user JWT named after the node that
// may publish that node's reports and read that node's commands, over MQTT
// only — checked by every broker node alone. It is the node's MQTT password (a
// bearer token: NATS cannot ask an MQTT client to sign a nonce); the broker's
// TLS still wants a certificate from the manager's CA. Each token has a user
// key of its own, recorded with its certificate: revoking a certificate puts
// that key in the account's revocation list, pushed to the cluster through the
// system account.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeAccount, encodeOperator, encodeUser, type Account } from '@nats-io/jwt';
import { Prefix, type KeyPair } from '@nats-io/nkeys';
import { connect, jwtAuthenticator } from '@nats-io/transport-node';
import { keyPairOfSeed, newKeyPair, newUserPublicKey } from './nats-keys.ts';

/** The NATS account the fleet lives in, and the name of the node role. */
export const natsAccountName = 'metalfleet';

/** A revoked token's user and when its certificate expires (after which the token is refused anyway). */
export interface Revoked { brokerUser: string; notAfter: Date }

interface Seeds { operator: string; system: string; account: string; nodeSigner: string; systemUser: string; manager: string }

export interface NatsAccounts {
  systemAccount: string;
  account: string;
  /** The account JWT revoking the given tokens' users (each until its certificate expires). */
  accountJwt(revoked?: readonly Revoked[]): Promise<string>;
  /** A node's MQTT password on NATS: a user JWT of a key of its own (`user`, to revoke it by), valid until `notAfter`. */
  nodeToken(nodeId: string, issuedAt: Date, notAfter: Date, maxPayloadBytes: number): Promise<{ token: string; user: string }>;
  /** The manager's native credentials in the fleet account: a JWT and the seed that signs the server's nonce. */
  managerCredentials(): Promise<{ jwt: string; seed: Uint8Array }>;
  /** The manager's MQTT password, for sending commands: publishes to nodes' commands only, valid until `notAfter`. */
  commandToken(notAfter: Date): Promise<string>;
  /** The system account's user, which pushes account updates to the cluster. */
  systemCredentials(): Promise<{ jwt: string; seed: Uint8Array }>;
  /** What each broker's configuration includes: the operator, the system account and the account as it stands (revocations in). */
  brokerConfig(revoked?: readonly Revoked[]): Promise<string>;
}

const unlimited = { subs: -1, conn: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, leaf: -1 } as const;
const seedText = (pair: KeyPair) => new TextDecoder().decode(pair.getSeed());
/** NATS subjects of a node's own topics (node ids are UUIDs the manager makes: no wildcard can be in one). */
const nodeSubject = (nodeId: string, topic: string) => `mf.v1.nodes.${nodeId}.${topic}`;

function loadSeeds(dir: string): Seeds {
  const file = join(dir, 'nats-keys.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Seeds;
  const seeds: Seeds = {
    operator: seedText(newKeyPair(Prefix.Operator)), system: seedText(newKeyPair(Prefix.Account)), account: seedText(newKeyPair(Prefix.Account)),
    nodeSigner: seedText(newKeyPair(Prefix.Account)), systemUser: seedText(newKeyPair(Prefix.User)), manager: seedText(newKeyPair(Prefix.User)),
  };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.new`, JSON.stringify(seeds, null, 2), { mode: 0o600 });
  renameSync(`${file}.new`, file);
  return seeds;
}

/** The manager's NATS operator and accounts, made on first use in `dir` (the PKI directory, shared by the replicas like the CA). */
export function loadNatsAccounts(dir: string): NatsAccounts {
  const seeds = loadSeeds(dir);
  const operator = keyPairOfSeed(seeds.operator);
  const system = keyPairOfSeed(seeds.system);
  const account = keyPairOfSeed(seeds.account);
  const nodeSigner = keyPairOfSeed(seeds.nodeSigner);
  const accountClaims = (revocations: Record<string, number>): Partial<Account> => ({
    limits: { ...unlimited, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
    signing_keys: [nodeSigner.getPublicKey()],
    revocations,
  });
  const accountJwt: NatsAccounts['accountJwt'] = (revoked = []) => {
    // NATS refuses a user's JWTs issued up to the given time: each token has a key of its own, so up to its expiry.
    const revocations = Object.fromEntries(revoked.map((r) => [r.brokerUser, Math.ceil(r.notAfter.getTime() / 1000)]));
    return encodeAccount(natsAccountName, account, accountClaims(revocations), { signer: operator });
  };
  const systemAccountJwt = () => encodeAccount('SYS', system, { limits: unlimited }, { signer: operator });
  return {
    systemAccount: system.getPublicKey(),
    account: account.getPublicKey(),
    accountJwt,
    async nodeToken(nodeId, issuedAt, notAfter, maxPayloadBytes) {
      const user = newUserPublicKey();
      const token = await encodeUser(nodeId, user, account, {
        pub: { allow: ['status', 'telemetry', 'health', 'progress'].map((topic) => nodeSubject(nodeId, topic)), deny: [] },
        // $MQTT.sub.> is where the broker delivers a QoS 1 subscription's messages. Over MQTT a client cannot name it
        // (topics starting $MQTT are refused); the token is refused on every other kind of connection.
        sub: { allow: [nodeSubject(nodeId, 'commands'), '$MQTT.sub.>'], deny: [] },
        bearer_token: true, allowed_connection_types: ['MQTT'], subs: 16, data: -1, payload: maxPayloadBytes,
      }, {
        // Valid from five minutes back, for clock skew, as the certificate.
        signer: nodeSigner, nbf: Math.floor(issuedAt.getTime() / 1000) - 300, exp: Math.floor(notAfter.getTime() / 1000),
      });
      return { token, user: user.getPublicKey() };
    },
    managerCredentials: async () => {
      const user = keyPairOfSeed(seeds.manager);
      return { jwt: await encodeUser('metalfleet-manager', user, account, { allowed_connection_types: ['STANDARD'] }), seed: user.getSeed() };
    },
    commandToken: (notAfter) => encodeUser('metalfleet-manager', newUserPublicKey(), account, {
      pub: { allow: ['mf.v1.nodes.*.commands'], deny: [] }, sub: { allow: [], deny: ['>'] },
      // The MQTT listener subscribes for each session itself (its JetStream replies): with no subscriptions allowed
      // ("subs: 0") every connection was closed at once ("maximum subscriptions exceeded"), and commands went out
      // only in the moments between. What the client may subscribe to is the deny above.
      bearer_token: true, allowed_connection_types: ['MQTT'], subs: 16, data: -1, payload: -1,
    }, { signer: nodeSigner, exp: Math.floor(notAfter.getTime() / 1000) }),
    systemCredentials: async () => {
      const user = keyPairOfSeed(seeds.systemUser);
      return { jwt: await encodeUser('metalfleet-system', user, system, {}), seed: user.getSeed() };
    },
    brokerConfig: async (revoked = []) => [
      '# Written by metalfleet-manager (--nats-url): the operator, the system account and the accounts a broker starts with.',
      '# Include it from each broker node\'s configuration (deploy/ha/nats). Account updates (revocations) are pushed to the',
      '# cluster by the manager; a broker keeps them in its resolver directory.',
      `operator: ${await encodeOperator('metalfleet', operator, { system_account: system.getPublicKey() })}`,
      `system_account: ${system.getPublicKey()}`,
      'resolver_preload: {',
      `  ${system.getPublicKey()}: ${await systemAccountJwt()}`,
      `  ${account.getPublicKey()}: ${await accountJwt(revoked)}`,
      '}',
      '',
    ].join('\n'),
  };
}

/**
 * The system account's connection to the cluster, for account updates: a broker node answers once it stored the
 * JWT in its resolver directory, and passes it on to the others (a node that was down gets it when it is back).
 */
export async function connectNatsSystem(urls: readonly string[], credentials: { jwt: string; seed: Uint8Array }, caPem: string) {
  const nc = await connect({
    servers: [...urls], name: 'metalfleet-system', authenticator: jwtAuthenticator(credentials.jwt, credentials.seed),
    // Fails at once when no broker node answers (the caller tries again later); once connected, reconnects for good.
    maxReconnectAttempts: -1, reconnectTimeWait: 1000, timeout: 5000,
    ...(urls.some((url) => url.startsWith('tls:')) ? { tls: { ca: caPem } } : {}),
  });
  return {
    async updateAccount(accountJwt: string): Promise<void> {
      const answer = (await nc.request('$SYS.REQ.CLAIMS.UPDATE', accountJwt, { timeout: 10_000 })).json<{ data?: { code?: number; message?: string }; error?: { description?: string } }>();
      if (answer.data?.code !== 200) throw new Error(`the NATS cluster refused the account update: ${answer.error?.description ?? answer.data?.message ?? JSON.stringify(answer)}`);
    },
    close: () => nc.close(),
  };
}
