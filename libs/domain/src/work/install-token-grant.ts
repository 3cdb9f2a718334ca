// Who gets a reimage's install token from the open boot endpoint, and who may
// register with it. Anyone on the provisioning network can ask for a node's
// boot script by its MAC, and a former tenant of the machine knows its whole
// identity. So the token is handed out once per reboot point (the manager's own
// power cycle through the BMC; without a BMC, once per command): the first
// fetch after it gets it, a later fetch gets nothing and is reported (it never
// takes the token from the fetch before it). And the registration that uses
// the token must come from the address its fetch came from: a token read off
// the wire, or from the kernel command line of another machine, is no good
// elsewhere.

export interface IssuedInstallToken {
  createdAt: Date;
  /** The address the boot endpoint handed it to (null: handed out before addresses were kept). */
  issuedTo: string | null;
}

export type InstallTokenGrant = { mint: true } | { mint: false; reason: string };

/**
 * Whether a fetch of the install script may get a new install token for its command. `issued`: the command's
 * install tokens so far; `rebootPointAt`: the manager's latest power cycle of the node (null without a BMC: the
 * whole command is one boot). A token handed out before the latest power cycle belongs to a boot that cycle ended.
 */
export function installTokenGrant(issued: readonly IssuedInstallToken[], rebootPointAt: Date | null): InstallTokenGrant {
  const since = rebootPointAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  const current = issued.filter((t) => t.createdAt.getTime() >= since).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())[0];
  if (!current) return { mint: true };
  const after = rebootPointAt ? ` after the power cycle at ${rebootPointAt.toISOString()}` : '';
  return { mint: false, reason: `its install script was handed out already${after}, at ${current.createdAt.toISOString()} to ${current.issuedTo ?? 'an address not recorded'}` };
}

/**
 * Why a registration from `peer` (gRPC's host:port) may not use an install token handed to `issuedTo` (the HTTP
 * client's address), or null when both are the same host. An address not recorded is not checked.
 */
export function installPeerProblem(issuedTo: string | null, peer: string): string | null {
  if (issuedTo === null) return null;
  const fetched = normalAddress(issuedTo);
  const registering = hostOfPeer(peer);
  if (fetched === registering) return null;
  return `the install token was handed to ${fetched}, and this registration comes from ${registering || peer}`;
}

/** An IP address as one spelling: lower case, no brackets, an IPv4-mapped IPv6 address as its IPv4 address. */
export function normalAddress(address: string): string {
  const bare = address.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(bare);
  return mapped ? mapped[1]! : bare;
}

/** The host of a gRPC peer ("1.2.3.4:5", "::1:5", "[::1]:5", "ipv4:1.2.3.4:5"), normalised; the whole string when it has no port. */
export function hostOfPeer(peer: string): string {
  const text = peer.trim().replace(/^ipv[46]:/i, '');
  const bracketed = /^\[([^\]]*)\]:\d+$/.exec(text);
  if (bracketed) return normalAddress(bracketed[1]!);
  const port = /^(.+):\d+$/.exec(text);
  return normalAddress(port ? port[1]! : text);
}
