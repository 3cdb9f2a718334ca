import { describe, expect, it } from 'vitest';
import { hostOfPeer, installPeerProblem, installTokenGrant, normalAddress } from './install-token-grant.ts';

const t = (s: number) => new Date(Date.UTC(2026, 10, 27, 11, 0, s));

describe('an install token is handed out once per reboot point', () => {
  it.each<{ name: string; issued: Array<{ createdAt: Date; issuedTo: string | null }>; rebootPointAt: Date | null; mint: boolean; reason?: RegExp }>([
    { name: 'first fetch, no BMC', issued: [], rebootPointAt: null, mint: true },
    { name: 'second fetch, no BMC: the first keeps its token', issued: [{ createdAt: t(5), issuedTo: '10.0.0.5' }], rebootPointAt: null, mint: false,
      reason: /^its install script was handed out already, at 2026-11-27T11:00:05.000Z to 10.0.0.5$/ },
    { name: 'first fetch after the power cycle', issued: [], rebootPointAt: t(10), mint: true },
    { name: 'second fetch after the power cycle', issued: [{ createdAt: t(12), issuedTo: '10.0.0.5' }], rebootPointAt: t(10), mint: false,
      reason: /after the power cycle at 2026-11-27T11:00:10.000Z, at 2026-11-27T11:00:12.000Z to 10.0.0.5$/ },
    { name: 'a token from before the latest power cycle belongs to a boot that cycle ended', issued: [{ createdAt: t(12), issuedTo: '10.0.0.5' }], rebootPointAt: t(70), mint: true },
    { name: 'the earliest since the reboot point is named', issued: [{ createdAt: t(30), issuedTo: '10.0.0.9' }, { createdAt: t(12), issuedTo: null }], rebootPointAt: null, mint: false,
      reason: /at 2026-11-27T11:00:12.000Z to an address not recorded$/ },
  ])('$name', ({ issued, rebootPointAt, mint, reason }) => {
    const grant = installTokenGrant(issued, rebootPointAt);
    expect(grant.mint).toBe(mint);
    if (!grant.mint && reason) expect(grant.reason).toMatch(reason);
  });
});

describe('the registration with an install token comes from the address its fetch came from', () => {
  it.each<[issuedTo: string | null, peer: string, same: boolean]>([
    ['127.0.0.1', '127.0.0.1:50432', true],
    ['::ffff:127.0.0.1', '127.0.0.1:50432', true],
    ['10.0.0.5', '::ffff:10.0.0.5:41000', true],
    ['10.0.0.5', 'ipv4:10.0.0.5:41000', true],
    ['::1', '::1:41000', true],
    ['fd00::5', '[FD00::5]:41000', true],
    ['fd00::5', 'ipv6:[fd00::5]:41000', true],
    ['127.0.0.2', '127.0.0.1:50432', false],
    ['10.0.0.5', '10.0.0.50:41000', false],
    ['10.0.0.5', '10.0.0.5', true],
    [null, '10.0.0.66:41000', true],
  ])('%s then %s: same host %s', (issuedTo, peer, same) => {
    expect(installPeerProblem(issuedTo, peer) === null).toBe(same);
  });

  it('names both addresses when they differ', () => {
    expect(installPeerProblem('127.0.0.2', '127.0.0.1:50432')).toBe('the install token was handed to 127.0.0.2, and this registration comes from 127.0.0.1');
  });

  it('spells one address one way', () => {
    expect([normalAddress('[::1]'), normalAddress('::FFFF:192.0.2.1'), hostOfPeer('[::ffff:192.0.2.1]:9')]).toEqual(['::1', '192.0.2.1', '192.0.2.1']);
  });
});
