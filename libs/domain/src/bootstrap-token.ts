// Bootstrap tokens: created by an operator, expiring, revocable, optionally
// limited in uses. The token string carries the manager CA's fingerprint so a
// node can verify the manager before it trusts it:
//   mfbt.<id>.<secret>[.<sha256 of the CA certificate>]

/**
 * Who a token is for. `operator`: made by an operator (API, CLI, the token file
 * the manager writes), registers new machines. `discovery`: handed out by the
 * boot endpoint to a machine whose MAC is unknown, bound to that MAC, single
 * use, short-lived. `install`: handed out by the boot endpoint to a node being
 * reimaged, bound to that node and that command.
 */
export type BootstrapTokenPurpose = 'operator' | 'discovery' | 'install';

export interface BootstrapTokenRecord {
  id: string;
  purpose: BootstrapTokenPurpose;
  /** install: the node it re-registers. */
  nodeId: string | null;
  /** install: the reimage command it belongs to. */
  commandId: string | null;
  /** discovery: the MAC it was handed to (the registration must include it). */
  mac: string | null;
  /** install: the address the boot endpoint handed it to (the registration must come from there); null otherwise. */
  issuedTo: string | null;
  description: string;
  secretHash: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  /** null: unlimited. */
  maxUses: number | null;
  uses: number;
}

export type BootstrapTokenState = 'active' | 'expired' | 'revoked' | 'used-up';

export interface ParsedBootstrapToken {
  id: string;
  secret: string;
  caFingerprint: string | null;
}

const tokenPattern = /^mfbt\.([A-Za-z0-9_-]{6,32})\.([A-Za-z0-9_-]{20,128})(?:\.([0-9a-f]{64}))?$/;

export function formatBootstrapToken(id: string, secret: string, caFingerprint: string | null): string {
  return `mfbt.${id}.${secret}${caFingerprint ? `.${caFingerprint}` : ''}`;
}

export function parseBootstrapToken(token: string): ParsedBootstrapToken | null {
  const m = tokenPattern.exec(token.trim());
  if (!m?.[1] || !m[2]) return null;
  return { id: m[1], secret: m[2], caFingerprint: m[3] ?? null };
}

export function bootstrapTokenState(record: BootstrapTokenRecord, now: Date): BootstrapTokenState {
  if (record.revokedAt !== null) return 'revoked';
  if (record.expiresAt.getTime() <= now.getTime()) return 'expired';
  if (record.maxUses !== null && record.uses >= record.maxUses) return 'used-up';
  return 'active';
}
