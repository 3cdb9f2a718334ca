// Node certificates on every FleetStore: recorded, revoked per node (one kept),
// listed for the revocation list while unexpired, purged once expired.
import { describe, expect, it } from 'vitest';
import type { StoreFactory } from './fleet-store.contract.ts';

const t = (minutes: number) => new Date(Date.UTC(2026, 10, 28, 3, minutes));

export function describeNodeCertificateStore(name: string, factory: StoreFactory): void {
  describe(`node certificates on ${name}`, () => {
    it('revokes a node\'s certificates but the one it keeps, lists the revoked ones until they expire, then purges them', async () => {
      const store = await factory.open('node_certs');
      await store.recordNodeCertificate({ serial: 'a1', nodeId: 'n1', issuedAt: t(0), notAfter: t(60), brokerUser: 'UA1' });
      await store.recordNodeCertificate({ serial: 'a2', nodeId: 'n1', issuedAt: t(1), notAfter: t(30), brokerUser: '' });
      await store.recordNodeCertificate({ serial: 'a3', nodeId: 'n1', issuedAt: t(2), notAfter: t(90), brokerUser: 'UA3' });
      await store.recordNodeCertificate({ serial: 'b1', nodeId: 'n2', issuedAt: t(0), notAfter: t(60), brokerUser: 'UB1' });
      expect(await store.revokeNodeCertificates('n1', t(5), 'a3')).toBe(2);
      expect(await store.revokeNodeCertificates('n1', t(6), 'a3')).toBe(0);
      expect(await store.revokedNodeCertificates(t(10))).toEqual([
        { serial: 'a1', nodeId: 'n1', revokedAt: t(5), notAfter: t(60), brokerUser: 'UA1' }, { serial: 'a2', nodeId: 'n1', revokedAt: t(5), notAfter: t(30), brokerUser: '' },
      ]);
      expect(await store.revokedNodeCertificates(t(40))).toEqual([{ serial: 'a1', nodeId: 'n1', revokedAt: t(5), notAfter: t(60), brokerUser: 'UA1' }]);
      expect(await store.getNodeCertificate('a3')).toEqual({ serial: 'a3', nodeId: 'n1', issuedAt: t(2), notAfter: t(90), revokedAt: null, brokerUser: 'UA3' });
      expect(await store.getNodeCertificate('b1')).toMatchObject({ nodeId: 'n2', revokedAt: null });
      expect(await store.getNodeCertificate('nope')).toBeNull();
      expect(await store.nodeCertificatesIssuedSince('n1', t(1))).toBe(1);
      expect(await store.nodeCertificatesIssuedSince('n2', t(-1))).toBe(1);
      expect(await store.nodeCertificatesIssuedSince('n2', t(0))).toBe(0);
      expect(await store.purgeNodeCertificates(t(61))).toBe(3);
      expect(await store.getNodeCertificate('a3')).toMatchObject({ serial: 'a3' });
    });
  });
}
