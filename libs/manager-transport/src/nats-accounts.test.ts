import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decode } from '@nats-io/jwt';
import { loadNatsAccounts } from './nats-accounts.ts';
import { mqttFilterToSubject } from './nats-broker.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-nats-accounts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface UserClaims { issuer_account?: string; pub?: unknown; sub?: unknown; bearer_token?: boolean }
interface AccountClaims { revocations?: Record<string, number>; signing_keys?: string[] }

describe('the manager\'s NATS accounts', () => {
  const accounts = loadNatsAccounts(dir);

  it('keeps its keys: a replica loading the same directory is the same operator and account; the seeds are private', async () => {
    expect(loadNatsAccounts(dir).account).toBe(accounts.account);
    expect(statSync(join(dir, 'nats-keys.json')).mode & 0o777).toBe(0o600);
    expect(await accounts.brokerConfig()).toContain(`system_account: ${accounts.systemAccount}`);
  });

  it('names a node\'s user after the node, its own topics only, over MQTT only, valid as long as its certificate', async () => {
    const issued = new Date('2026-11-28T10:00:00Z');
    const notAfter = new Date('2026-11-29T10:00:00Z');
    const { token, user } = await accounts.nodeToken('node-a', issued, notAfter, 4096);
    const claims = decode<UserClaims>(token);
    expect([claims.name, claims.sub]).toEqual(['node-a', user]);
    expect(claims.nats.issuer_account).toBe(accounts.account);
    expect(claims.exp).toBe(notAfter.getTime() / 1000);
    expect(claims.nbf).toBe(issued.getTime() / 1000 - 300);
    expect(claims.nats).toMatchObject({
      pub: { allow: ['status', 'telemetry', 'health', 'progress'].map((t) => `mf.v1.nodes.node-a.${t}`) },
      sub: { allow: ['mf.v1.nodes.node-a.commands', '$MQTT.sub.>'] }, allowed_connection_types: ['MQTT'], payload: 4096,
    });
    // Signed by the account's signing key (listed in the account), not the account key itself.
    expect(decode<AccountClaims>(await accounts.accountJwt()).nats.signing_keys).toEqual([claims.iss]);
    // Every token a key of its own: revoking one leaves the node's next.
    expect((await accounts.nodeToken('node-a', issued, notAfter, 4096)).user).not.toBe(user);
  });

  it('revokes a token by its user key until its certificate expires; puts the revocations in the brokers\' file', async () => {
    const notAfter = new Date('2026-11-28T10:00:00.500Z');
    const account = decode<AccountClaims>(await accounts.accountJwt([{ brokerUser: 'UABC', notAfter }]));
    expect(account.nats.revocations).toEqual({ UABC: Math.ceil(notAfter.getTime() / 1000) });
    expect(await accounts.brokerConfig([{ brokerUser: 'UABC', notAfter }])).toContain(await accounts.accountJwt([{ brokerUser: 'UABC', notAfter }]).then((jwt) => jwt.split('.')[0]));
  });

  it('gives the manager a native user that signs the server\'s nonce, and a command-only MQTT token', async () => {
    const native = decode<UserClaims & { allowed_connection_types?: string[] }>((await accounts.managerCredentials()).jwt);
    expect(native.nats.bearer_token).toBeUndefined();
    expect(native.nats.allowed_connection_types).toEqual(['STANDARD']);
    const commands = decode<UserClaims & { allowed_connection_types?: string[] }>(await accounts.commandToken(new Date(Date.now() + 3_600_000)));
    expect(commands.nats).toMatchObject({ pub: { allow: ['mf.v1.nodes.*.commands'] }, sub: { deny: ['>'] }, allowed_connection_types: ['MQTT'] });
  });
});

describe('MQTT filters as NATS subjects', () => {
  it.each([
    ['mf/v1/nodes/+/status', 'mf.v1.nodes.*.status'],
    ['mf/v1/nodes/#', 'mf.v1.nodes.>'],
    ['mf/v1/nodes/n1/commands', 'mf.v1.nodes.n1.commands'],
  ])('%s → %s', (filter, subject) => expect(mqttFilterToSubject(filter)).toBe(subject));
});
