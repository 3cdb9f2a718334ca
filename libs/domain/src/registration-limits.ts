// What a registration may carry. Checked before anything else happens, so a
// caller cannot make the manager store, compare or log megabytes: a 1 MiB
// serial used to be copied into every conflict record it caused.
import type { Inventory } from './inventory.ts';
import { parseMac, type NodeIdentity } from './node-identity.ts';

export const registrationLimits = {
  /** SMBIOS UUID, serials, BMC address. */
  identifierChars: 128,
  macs: 64,
  hostnameChars: 253,
  /** Any other text in the inventory (models, versions, collector messages). */
  textChars: 1024,
  /** Entries per inventory list (CPUs, DIMMs, disks, NICs, GPUs, collector failures). */
  listEntries: 256,
  /** The agent's version string; a command id a node names. */
  labelChars: 128,
} as const;

/**
 * Why a node-supplied text is unacceptable, or null: too long, or holding a NUL character, which PostgreSQL text
 * cannot hold (SQLite can): refused here, on both stores alike, before anything is looked up or written.
 */
export function textProblem(name: string, value: string, maxChars: number): string | null {
  if (value.length > maxChars) return `${name} is ${value.length} characters long (at most ${maxChars})`;
  if (value.includes('\u0000')) return `${name} holds a NUL character`;
  return null;
}

/** Why the identity is unacceptable, or null. */
export function identityProblem(identity: NodeIdentity): string | null {
  const max = registrationLimits.identifierChars;
  const fields = [['system UUID', identity.systemUuid], ['system serial', identity.systemSerial], ['chassis serial', identity.chassisSerial],
    ['board serial', identity.boardSerial], ['BMC address', identity.bmcAddress]] as const;
  for (const [name, value] of fields) {
    const problem = textProblem(name, value, max);
    if (problem !== null) return problem;
  }
  if (identity.macs.length > registrationLimits.macs) return `${identity.macs.length} MAC addresses (at most ${registrationLimits.macs})`;
  const bad = identity.macs.find((m) => m.length > 32 || parseMac(m) === null);
  if (bad !== undefined) return `MAC address ${JSON.stringify(bad.slice(0, 32))} is not a MAC (aa:bb:cc:dd:ee:ff, aa-bb-…, aabb.ccdd.eeff or aabbccddeeff)`;
  return null;
}

/** Why the inventory is unacceptable, or null. */
export function inventoryProblem(inventory: Inventory): string | null {
  const hostname = textProblem('hostname', inventory.system.hostname, registrationLimits.hostnameChars);
  if (hostname !== null) return hostname;
  const lists = { cpus: inventory.cpus, dimms: inventory.memory.dimms, disks: inventory.disks, nics: inventory.nics, gpus: inventory.gpus, failures: inventory.failures };
  for (const [name, list] of Object.entries(lists)) {
    if (list.length > registrationLimits.listEntries) return `inventory lists ${list.length} ${name} (at most ${registrationLimits.listEntries})`;
  }
  return longText(inventory, 'inventory');
}

function longText(value: unknown, path: string): string | null {
  if (typeof value === 'string') return textProblem(path, value, registrationLimits.textChars);
  if (value === null || typeof value !== 'object' || value instanceof Date) return null;
  for (const [key, inner] of Object.entries(value)) {
    const problem = longText(inner, Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`);
    if (problem !== null) return problem;
  }
  return null;
}
