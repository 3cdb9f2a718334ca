// What the manager itself saw of a node's reimage, kept beside the agent's
// word. A tenant is root on its node: it can answer the reimage command with
// "installed" and the right sha256 without ever rebooting. So a reported
// install is believed only when the manager saw the node go down (its own
// power cycle through the BMC, or — without a BMC — the agent's ack of the
// reboot) and then saw the boot endpoint serve this command's install script.
// A fetch before that point proves nothing: a tenant can GET its own node's
// boot script from the tenant OS.
//
// Without a BMC even that is the node's word: the tenant can ack the reboot,
// fetch the install script, register with its token and report the install
// without ever rebooting. Such a reimage is believed (nothing better can be
// had) but marked as the agent's word alone (`proof: 'agent-only'`): the
// manager never verified that the disk was rewritten.

export interface ReimageEvidence {
  /** How the node was to go down once it acked: the manager power-cycles it through its BMC, or the agent reboots it. */
  rebootBy: 'bmc' | 'agent' | null;
  /** When the manager received the agent's ack of the reboot (its running report). */
  rebootAckedAt: Date | null;
  /** When the manager last power-cycled the node into PXE through its BMC (taken before the BMC call). */
  powerCycledAt: Date | null;
  /** The last time the boot endpoint served this reimage's install script, and to which address. */
  installBoot: { at: Date; peer: string } | null;
  /** An agent registered with the install token bound to this node and command (kept when seen, not required). */
  installRegisteredAt: Date | null;
  /** Set when a reported install was refused: what the manager did not see. */
  missing: MissingEvidence['code'] | null;
  /** Set when a reported install was believed: on what (installProof). */
  proof: InstallProof | null;
  /**
   * The latest request for this reimage's install the manager refused (the reimage went on): a second fetch of its
   * install script, or a registration with its install token from another address. Someone else may be after the node.
   */
  refused: RefusedInstall | null;
}

export interface RefusedInstall {
  at: Date;
  step: 'boot-script' | 'registration';
  peer: string;
  reason: string;
}

/**
 * What a believed install rests on. `manager`: the manager's own power cycle through the BMC, then the install
 * script served after it. `agent-only`: the node has no BMC, and every sign came from the node, whose root may be
 * its tenant's: not verified that the disk was rewritten.
 */
export type InstallProof = 'manager' | 'agent-only';

export function installProof(hasBmc: boolean): InstallProof {
  return hasBmc ? 'manager' : 'agent-only';
}

/** For messages and the node's history: what an agent-only install means (null for one the manager verified). */
export function unverifiedNote(evidence: ReimageEvidence): string | null {
  return evidence.proof === 'agent-only'
    ? 'not verified by the manager: the node has no BMC, so every sign of this reimage, from the reboot ack to the result, came from the node itself'
    : null;
}

export interface MissingEvidence {
  code: 'reboot' | 'power-cycle' | 'install-boot';
  message: string;
}

export function noEvidence(): ReimageEvidence {
  return { rebootBy: null, rebootAckedAt: null, powerCycledAt: null, installBoot: null, installRegisteredAt: null, missing: null, proof: null, refused: null };
}

const prefix = 'reported installed but the manager never saw it boot the install image';

/**
 * What is missing for the manager to believe a reported install, or null when it saw the node go down and boot the install image.
 * `hasBmc`: the node has a BMC, so nothing but the manager's own power cycle shows it went down.
 */
export function missingInstallEvidence(evidence: ReimageEvidence, hasBmc: boolean): MissingEvidence | null {
  if (ackLostButInstalled(evidence, hasBmc)) return null;
  const point = rebootPoint(evidence);
  if ('missing' in point) return point.missing;
  const boot = evidence.installBoot;
  if (boot && boot.at.getTime() >= point.at.getTime()) return null;
  const earlier = boot ? ` (the last one, at ${boot.at.toISOString()} from ${boot.peer}, came before it)` : '';
  return { code: 'install-boot', message: `${prefix}: no boot-script fetch after ${point.label}${earlier}` };
}

/** From when a fetch of the install script counts: the manager's own power cycle, else (no BMC) the agent's ack of the reboot. */
function rebootPoint(evidence: ReimageEvidence): { at: Date; label: string } | { missing: MissingEvidence } {
  if (evidence.powerCycledAt) return { at: evidence.powerCycledAt, label: `the power cycle at ${evidence.powerCycledAt.toISOString()}` };
  if (evidence.rebootBy === 'bmc') {
    return { missing: { code: 'power-cycle', message: `${prefix}: the manager never power-cycled it through its BMC` } };
  }
  if (evidence.rebootAckedAt) return { at: evidence.rebootAckedAt, label: `the agent acknowledged the reboot at ${evidence.rebootAckedAt.toISOString()}` };
  return { missing: { code: 'reboot', message: `${prefix}: it never acknowledged the reboot and the manager never power-cycled it` } };
}

/**
 * A node without a BMC whose agent's reboot ack never arrived (it was still in the agent's spool at the reboot, and the
 * install rewrote the disk with it) is believed on what the manager saw instead: its install script served, then an
 * agent registered with that script's single-use install token. The install script is served only once the command
 * exists, so both came after it. This is no weaker than the ack: without a BMC every one of these, the ack included,
 * comes from the node, whose root is the tenant's (docs/agent-commands.md). A node with a BMC still needs the
 * manager's own power cycle.
 */
function ackLostButInstalled(evidence: ReimageEvidence, hasBmc: boolean): boolean {
  if (hasBmc || evidence.rebootBy === 'bmc' || evidence.rebootAckedAt || evidence.powerCycledAt) return false;
  const { installBoot, installRegisteredAt } = evidence;
  return installBoot !== null && installRegisteredAt !== null && installRegisteredAt.getTime() >= installBoot.at.getTime();
}

/** For the node's history: why an install was believed without the agent's reboot ack (null when the ack came, or it was not). */
export function ackLostNote(evidence: ReimageEvidence, hasBmc: boolean): string | null {
  if (!ackLostButInstalled(evidence, hasBmc) || !evidence.installBoot || !evidence.installRegisteredAt) return null;
  return `the agent's reboot ack did not come first (lost with its spool, or held by a replica that died): believed on the install script served at ${evidence.installBoot.at.toISOString()} `
    + `and the registration with its install token at ${evidence.installRegisteredAt.toISOString()}`;
}
