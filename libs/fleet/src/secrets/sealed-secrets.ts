// BMC passwords (on nodes and on enrollments) sealed at rest: the store the
// manager uses seals every password it writes and opens every one it reads,
// so nothing else in the manager sees ciphertext. At start, passwords stored
// in plaintext by an older manager are sealed, and the manager refuses to
// start when sealed ones exist that the key it has cannot open.
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import type { BmcConfig, EnrollmentRecord, FleetStore } from '@metalfleet/store';
import { SecretBoxError, isSealed, sealedKeyId, type SecretBox } from './secret-box.ts';
import { openSecretKeyFile, secretKeyFileExists } from './secret-key-file.ts';

/** Bound to the sealed password: moved to another BMC address or user in the database, it no longer opens. */
const bmcContext = (bmc: BmcConfig) => `bmc ${bmc.driver} ${bmc.address}:${bmc.port} ${bmc.username}`;

async function sealBmc(box: SecretBox, bmc: BmcConfig): Promise<BmcConfig> {
  return { ...bmc, password: await box.seal(bmc.password, bmcContext(bmc)) };
}

async function openBmc(box: SecretBox, bmc: BmcConfig): Promise<BmcConfig> {
  // A password still in plaintext is one the start-up pass has not sealed yet (a store shared with an older replica).
  return isSealed(bmc.password) ? { ...bmc, password: await box.open(bmc.password, bmcContext(bmc)) } : bmc;
}

/** `store`, with BMC passwords sealed by `box` on the way in and opened on the way out. */
export function sealedSecretsStore(store: FleetStore, box: SecretBox): FleetStore {
  const openEnrollment = async (e: EnrollmentRecord): Promise<EnrollmentRecord> => ({ ...e, bmc: await openBmc(box, e.bmc) });
  return {
    ...store,
    setBmc: async (nodeId, bmc) => store.setBmc(nodeId, bmc && (await sealBmc(box, bmc))),
    getBmc: async (nodeId) => {
      const bmc = await store.getBmc(nodeId);
      return bmc && openBmc(box, bmc);
    },
    listBmcs: async () => Promise.all((await store.listBmcs()).map(async ({ nodeId, bmc }) => ({ nodeId, bmc: await openBmc(box, bmc) }))),
    putEnrollment: async (e) => store.putEnrollment({ ...e, bmc: await sealBmc(box, e.bmc) }),
    listEnrollments: async () => Promise.all((await store.listEnrollments()).map(openEnrollment)),
    claimEnrollment: async (macs, nodeId, at) => {
      const claimed = await store.claimEnrollment(macs, nodeId, at);
      return claimed && openEnrollment(claimed);
    },
  };
}

export interface OpenedSecrets {
  /** The store to use from here on: passwords sealed on write, opened on read. */
  store: FleetStore;
  keyId: string;
  /** The key file was made now (first start). */
  created: boolean;
  /** Plaintext passwords found and sealed now. */
  sealedNow: number;
}

/**
 * Opens the key in `keyFile` (made on first start), checks it opens every sealed secret in the store, and seals
 * what is still in plaintext. Throws SecretBoxError, and changes nothing, when sealed secrets exist that it cannot open.
 */
export async function openSealedSecrets(store: FleetStore, keyFile: string): Promise<OpenedSecrets> {
  const stored = [
    ...(await store.listBmcs()).map(({ nodeId, bmc }) => ({ what: `node ${nodeId}'s BMC`, bmc, reseal: (sealed: BmcConfig) => store.setBmc(nodeId, sealed) })),
    ...(await store.listEnrollments()).map((e) => ({ what: `the enrollment of ${e.mac}`, bmc: e.bmc, reseal: (sealed: BmcConfig) => store.putEnrollment({ ...e, bmc: sealed }) })),
  ];
  const sealed = stored.filter((s) => isSealed(s.bmc.password));
  const keyIds = [...new Set(sealed.map((s) => sealedKeyId(s.bmc.password)))];
  if (sealed.length > 0 && !secretKeyFileExists(keyFile)) {
    throw new SecretBoxError('secret-key-missing',
      `the fleet state holds ${sealed.length} BMC password(s) sealed with key ${keyIds.join(', ')}, but there is no key file ${keyFile}: restore it there, or point --secret-key-file at it`);
  }
  const { box, created } = openSecretKeyFile(keyFile, { mayCreate: sealed.length === 0 });
  for (const s of sealed) {
    try {
      await box.open(s.bmc.password, bmcContext(s.bmc));
    } catch (error) {
      if (!(error instanceof SecretBoxError)) throw error;
      throw new SecretBoxError(error.code, error.code === 'secret-key-wrong'
        ? `${s.what} is sealed with key ${sealedKeyId(s.bmc.password)}, but ${keyFile} holds key ${box.keyId}: is it the right key file?`
        : `${s.what}: ${error.message}`);
    }
  }
  const plain = stored.filter((s) => !isSealed(s.bmc.password));
  // Resealing leaves the old plaintext in free pages until the purge; a start killed in between must still purge,
  // though it then finds nothing left to seal: the marker says a purge is owed.
  const purgeOwed = `${keyFile}.purge-pending`;
  if (plain.length > 0) writeFileSync(purgeOwed, `${plain.length} password(s) resealed; the files still hold them in clear until a purge\n`, { mode: 0o600 });
  for (const p of plain) await p.reseal(await sealBmc(box, p.bmc));
  if (existsSync(purgeOwed)) {
    await store.purgeOverwrittenSecrets();
    unlinkSync(purgeOwed);
  }
  return { store: sealedSecretsStore(store, box), keyId: box.keyId, created, sealedNow: plain.length };
}
