// Nodes' client certificates as the service hands them out: a node asking again
// too soon is refused (it grew the revocation list by one each time before), a
// renewal revokes nothing, and revoking a node's certificates lists them all.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { createClientCertificates, type ClientCertificates } from './client-certificates.ts';

let store: FleetStore;
let certificates: ClientCertificates;
let now = new Date('2026-11-28T03:00:00Z');
let serial = 0;
const published: Array<{ serials: string[] }> = [];

beforeEach(async () => {
  store = openSqliteFleetStore({ path: ':memory:' });
  now = new Date('2026-11-28T03:00:00Z');
  published.length = 0;
  // The signing is the CA's (tested in manager-transport); here each request gets a serial of its own.
  certificates = createClientCertificates({
    store, now: () => now, ttlMs: 3_600_000,
    sign: async (_request, _nodeId, _at, notAfter) => ({ certPem: 'pem', serial: `s${(serial += 1)}`, notAfter, brokerToken: '', brokerUser: '' }),
    isBadRequest: () => false,
    signCrl: async (revoked) => revoked.map((r) => r.serial).join(','),
    publishCrl: (pem) => published.push({ serials: pem === '' ? [] : pem.split(',') }),
  });
  await certificates.refreshCrl();
});
afterEach(() => store.close());

describe('client certificates', () => {
  it('refuses a node that asks again within a tenth of the lifetime, and revokes nothing on a renewal', async () => {
    const first = await certificates.issue('n1', 'request');
    await expect(certificates.issue('n1', 'request')).rejects.toMatchObject({ code: 'unavailable' });
    now = new Date(now.getTime() + 361_000);
    const second = await certificates.issue('n1', 'request');
    expect(second.serial).not.toBe(first.serial);
    expect(await store.revokedNodeCertificates(now)).toEqual([]);
    // Another node is not held back by n1's.
    await certificates.issue('n2', 'request');
  });

  it('revokes all of a node\'s certificates at once, lists them, and lets it ask again at once', async () => {
    const first = await certificates.issue('n1', 'request');
    now = new Date(now.getTime() + 400_000);
    const second = await certificates.issue('n1', 'request');
    expect(await certificates.revokeAll('n1')).toBe(2);
    expect(published.at(-1)?.serials.sort()).toEqual([first.serial, second.serial].sort());
    await expect(certificates.issue('n1', 'request')).resolves.toMatchObject({ certPem: 'pem' });
  });
});
