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
interface AccountClaims { revocations?: Record<string, number>; signing_keys?: Array<{ key: string; template: { pub: { allow: string[] }; sub: { allow: string[] } } }> }

describe('the manager\'s NATS accounts', () => {
  const accounts = loadNatsAccounts(dir);

  it('keeps its keys: a replica loading the same directory is the same operator and account; the seeds are private', async () => {
    expect(loadNatsAccounts(dir).account).toBe(accounts.account);
    expect(statSync(join(dir, 'nats-keys.json')).mode & 0o777).toBe(0o600);
    expect(await accounts.brokerConfig()).toContain(`system_account: ${accounts.systemAccount}`);
  });

  it('names a node\'s user after the node, signed by the node role\'s key, valid as long as its certificate', async () => {
    const issued = new Date('2026-11-28T10:00:00Z');
    const notAfter = new Date('2026-11-29T10:00:00Z');
    const token = decode<UserClaims>(await accounts.nodeToken('node-a', issued, notAfter));
    expect(token.name).toBe('node-a');
    expect(token.nats.issuer_account).toBe(accounts.account);
    expect(token.exp).toBe(notAfter.getTime() / 1000);
    expect(token.nbf).toBe(issued.getTime() / 1000 - 300);
    // Permissions come from the scoped key's template, not the token: a node cannot widen them.
    expect(token.nats.pub).toBeUndefined();
    const account = decode<AccountClaims>(await accounts.accountJwt());
    const role = account.nats.signing_keys?.find((k) => k.key === token.iss);
    expect(role?.template.pub.allow).toEqual(['status', 'telemetry', 'health', 'progress'].map((t) => `mf.v1.nodes.{{name()}}.${t}`));
    expect(role?.template.sub.allow).toEqual(['mf.v1.nodes.{{name()}}.commands', '$MQTT.sub.>']);
  });

  it('revokes every token of a node up to a second before its revocation (its next, asked at once, stands)', async () => {
    const sub = (nodeId: string) => accounts.nodeToken(nodeId, new Date(), new Date(Date.now() + 60_000)).then((t) => decode(t).sub);
    const revokedAt = new Date('2026-11-28T10:00:00.500Z');
    const account = decode<AccountClaims>(await accounts.accountJwt([{ nodeId: 'node-a', revokedAt }, { nodeId: 'node-a', revokedAt: new Date('2026-11-28T09:00:00Z') }]));
    expect(account.nats.revocations).toEqual({ [await sub('node-a')]: revokedAt.getTime() / 1000 - 1.5 });
    expect(await sub('node-a')).not.toBe(await sub('node-b'));
  });
});

describe('MQTT filters as NATS subjects', () => {
  it.each([
    ['mf/v1/nodes/+/status', 'mf.v1.nodes.*.status'],
    ['mf/v1/nodes/#', 'mf.v1.nodes.>'],
    ['mf/v1/nodes/n1/commands', 'mf.v1.nodes.n1.commands'],
  ])('%s → %s', (filter, subject) => expect(mqttFilterToSubject(filter)).toBe(subject));
});
