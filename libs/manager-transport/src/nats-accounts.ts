// The NATS side of node identity (--nats-url). NATS 2.9 has no certificate
// revocation list and no per-user pattern ACL in its configuration file; it
// has JWT accounts. The manager is their operator: it keeps the operator, the
// accounts and a signing key scoped to the node role, whose template lets a
// user named after a node id publish that node's reports and read that node's
// commands, and nothing else — checked by every broker node alone. Each node
// is given a user JWT beside its client certificate, with the same lifetime;
// it is its MQTT password (a bearer token: NATS cannot ask an MQTT client to
// sign a nonce), and the broker's TLS still wants a certificate from the
// manager's CA. A node's user key is derived from its id, so revoking every
// credential of a node is one entry in the account's revocation list, pushed
// to the cluster through the system account.
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { encodeAccount, encodeOperator, encodeUser, type Account } from '@nats-io/jwt';
import { createAccount, createOperator, createUser, fromSeed, Prefix, type KeyPair } from '@nats-io/nkeys';
import { connect, jwtAuthenticator } from '@nats-io/transport-node';

// The seed encoder is not exported from the package root (CommonJS; no exports map to forbid the deep path).
const { Codec } = createRequire(import.meta.url)('@nats-io/nkeys/lib/codec') as { Codec: { encodeSeed: (prefix: Prefix, raw: Uint8Array) => Uint8Array } };

/** The NATS account the fleet lives in, and the name of the node role. */
export const natsAccountName = 'metalfleet';

interface Seeds { operator: string; system: string; account: string; nodeSigner: string; systemUser: string; manager: string }

export interface NatsAccounts {
  systemAccount: string;
  account: string;
  /** The account JWT revoking the given node ids' credentials issued up to the given times. */
  accountJwt(revoked?: ReadonlyArray<{ nodeId: string; revokedAt: Date }>): Promise<string>;
  /** A node's MQTT password on NATS: its user JWT, valid until `notAfter`. */
  nodeToken(nodeId: string, issuedAt: Date, notAfter: Date): Promise<string>;
  /** The manager's native and MQTT credentials (JWT and seed) in the fleet account. */
  managerCredentials(): Promise<{ jwt: string; seed: Uint8Array }>;
  /** The system account's user, which pushes account updates to the cluster. */
  systemCredentials(): Promise<{ jwt: string; seed: Uint8Array }>;
  /** What each broker's configuration includes: the operator, the system account and the accounts to start with. */
  brokerConfig(): Promise<string>;
}

const unlimited = { subs: -1, conn: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, leaf: -1 } as const;
const seedText = (pair: KeyPair) => new TextDecoder().decode(pair.getSeed());
const pairOf = (seed: string) => fromSeed(new TextEncoder().encode(seed));
/** NATS subjects of a node's own topics; `{{name()}}` is the user's name, the node id. */
const nodeSubject = (topic: string) => `mf.v1.nodes.{{name()}}.${topic}`;

function loadSeeds(dir: string): Seeds {
  const file = join(dir, 'nats-keys.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Seeds;
  const seeds: Seeds = {
    operator: seedText(createOperator()), system: seedText(createAccount()), account: seedText(createAccount()),
    nodeSigner: seedText(createAccount()), systemUser: seedText(createUser()), manager: seedText(createUser()),
  };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.new`, JSON.stringify(seeds, null, 2), { mode: 0o600 });
  renameSync(`${file}.new`, file);
  return seeds;
}

/** The manager's NATS operator and accounts, made on first use in `dir` (the PKI directory, shared by the replicas like the CA). */
export function loadNatsAccounts(dir: string): NatsAccounts {
  const seeds = loadSeeds(dir);
  const operator = pairOf(seeds.operator);
  const system = pairOf(seeds.system);
  const account = pairOf(seeds.account);
  const nodeSigner = pairOf(seeds.nodeSigner);
  const nodeUser = (nodeId: string) => fromSeed(Codec.encodeSeed(Prefix.User, createHmac('sha256', seeds.account).update(`node:${nodeId}`).digest()));
  const accountClaims = (revocations: Record<string, number>): Partial<Account> => ({
    limits: { ...unlimited, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
    signing_keys: [{
      kind: 'user_scope', key: nodeSigner.getPublicKey(), role: 'node',
      template: {
        pub: { allow: ['status', 'telemetry', 'health', 'progress'].map(nodeSubject), deny: [] },
        // $MQTT.sub.> is where the broker delivers a QoS 1 subscription's messages (to the subscriber alone).
        sub: { allow: [nodeSubject('commands'), '$MQTT.sub.>'], deny: [] },
        bearer_token: true, allowed_connection_types: ['MQTT'], subs: -1, data: -1, payload: -1,
      },
    }],
    revocations,
  });
  const accountJwt: NatsAccounts['accountJwt'] = (revoked = []) => {
    const revocations: Record<string, number> = {};
    for (const r of revoked) {
      const key = nodeUser(r.nodeId).getPublicKey();
      // NATS revokes the JWTs issued at or before this second. One second earlier: the node's new JWT, issued in the
      // same second as the revocation (a wiped disk approved again asks at once), must stand.
      revocations[key] = Math.max(revocations[key] ?? 0, Math.floor(r.revokedAt.getTime() / 1000) - 1);
    }
    return encodeAccount(natsAccountName, account, accountClaims(revocations), { signer: operator });
  };
  const systemAccountJwt = () => encodeAccount('SYS', system, { limits: unlimited }, { signer: operator });
  return {
    systemAccount: system.getPublicKey(),
    account: account.getPublicKey(),
    accountJwt,
    nodeToken: (nodeId, issuedAt, notAfter) => encodeUser(nodeId, nodeUser(nodeId), account, {}, {
      // Valid from five minutes back, for clock skew, as the certificate.
      signer: nodeSigner, scopedUser: true, nbf: Math.floor(issuedAt.getTime() / 1000) - 300, exp: Math.floor(notAfter.getTime() / 1000),
    }),
    managerCredentials: async () => {
      const user = pairOf(seeds.manager);
      return { jwt: await encodeUser('metalfleet-manager', user, account, { bearer_token: true }), seed: user.getSeed() };
    },
    systemCredentials: async () => {
      const user = pairOf(seeds.systemUser);
      return { jwt: await encodeUser('metalfleet-system', user, system, {}), seed: user.getSeed() };
    },
    brokerConfig: async () => [
      '# Written by metalfleet-manager (--nats-url): the operator, the system account and the accounts a broker starts with.',
      '# Include it from each broker node\'s configuration (deploy/ha/nats). Account updates (revocations) are pushed to the',
      '# cluster by the manager; a broker keeps them in its resolver directory.',
      `operator: ${await encodeOperator('metalfleet', operator, { system_account: system.getPublicKey() })}`,
      `system_account: ${system.getPublicKey()}`,
      'resolver_preload: {',
      `  ${system.getPublicKey()}: ${await systemAccountJwt()}`,
      `  ${account.getPublicKey()}: ${await accountJwt()}`,
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
