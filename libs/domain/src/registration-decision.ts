// What a registration may do, given which node its identity matches and what it
// proves. Pure: the registrar looks up the match, the credential, the token and
// any operator approval, and executes the decision.
//
// Re-registering a known node needs its current credential, an install token
// bound to that node and a reimage command now in progress, or an operator's
// approval. A token alone never hands out a known node's credential: a wiped
// disk re-enrols through approval.
import type { BootstrapTokenPurpose } from './bootstrap-token.ts';
import type { IdentityMatch, NodeIdentity } from './node-identity.ts';
import { normalizeIdentity } from './node-identity.ts';

export interface RegistrationProof {
  /** The node whose credential the caller presented and which verified; null: none or wrong. */
  credentialOf: string | null;
  /** A valid (active) bootstrap token; null: none or refused (see tokenError). */
  token: { purpose: BootstrapTokenPurpose; id: string; nodeId: string | null; commandId: string | null; mac: string | null } | null;
  /** Why the presented token was refused (missing, expired, …); null when it is valid. */
  tokenError: string | null;
  /** The install token's reimage is in its rebooting or installing phase now. */
  installInProgress: boolean;
  /** The node an operator approved this exact identity as; null: no approval waiting. */
  approvedAs: string | null;
  /**
   * The node an earlier use of this very token registered this exact identity as (its reply may have been
   * lost): the same registration again, answered again without spending another use; null: none.
   */
  retryOf: string | null;
}

export type RegistrationDecision =
  /** A known node, proven: same node id, fresh credential (`retry`: the token's use this machine already spent). */
  | { action: 'returning'; nodeId: string; via: 'credential' | 'install-token' | 'approval' | 'retry'; spendToken: boolean }
  /** A machine nothing is known about; `discovered`: it came through a boot-endpoint discovery token. */
  | { action: 'create'; discovered: boolean }
  /** A known node without its credential: recorded, refused until an operator approves. */
  | { action: 'pending-approval'; nodeId: string; reason: string }
  | { action: 'conflict'; nodeIds: readonly string[]; reason: string }
  | { action: 'refuse'; reason: string };

/**
 * An approval names an identity, which anyone who read it can replay: it is
 * used only together with a token an operator handed out, or a discovery token
 * the boot endpoint gave to one of this machine's MACs.
 */
function tokenFitsApproval(identity: NodeIdentity, token: RegistrationProof['token']): boolean {
  if (token?.purpose === 'operator') return true;
  return token?.purpose === 'discovery' && token.mac !== null && normalizeIdentity(identity).macs.includes(token.mac);
}

export function decideRegistration(identity: NodeIdentity, match: IdentityMatch, proof: RegistrationProof): RegistrationDecision {
  const { token } = proof;
  const noProof = { action: 'refuse', reason: proof.tokenError ?? 'bootstrap token missing' } as const;
  const approved = (nodeId: string) => proof.approvedAs === nodeId && tokenFitsApproval(identity, token);

  if (match.kind === 'conflict') {
    const approvedAs = match.nodeIds.find(approved);
    if (approvedAs !== undefined) return { action: 'returning', nodeId: approvedAs, via: 'approval', spendToken: true };
    if (proof.credentialOf === null && token === null) return noProof;
    return { action: 'conflict', nodeIds: match.nodeIds, reason: match.reason };
  }

  if (match.kind === 'known') {
    const nodeId = match.nodeId;
    if (proof.credentialOf === nodeId) return { action: 'returning', nodeId, via: 'credential', spendToken: false };
    // The same token and the same full identity that registered this node: its reply was lost. An install token
    // still only while its reimage is rebooting or installing.
    if (proof.retryOf === nodeId && token !== null && (token.purpose !== 'install' || proof.installInProgress)) {
      return { action: 'returning', nodeId, via: 'retry', spendToken: false };
    }
    if (token?.purpose === 'install' && token.nodeId === nodeId && proof.installInProgress) return { action: 'returning', nodeId, via: 'install-token', spendToken: true };
    if (approved(nodeId)) return { action: 'returning', nodeId, via: 'approval', spendToken: true };
    if (proof.credentialOf !== null) {
      return { action: 'conflict', nodeIds: [nodeId, proof.credentialOf], reason: `presents node ${proof.credentialOf}'s credential with node ${nodeId}'s identity` };
    }
    if (token === null) return noProof;
    if (token.purpose === 'install') {
      // The caller learns nothing about which node the token or the identity belongs to.
      const why = token.nodeId === nodeId ? 'its reimage is not rebooting or installing' : 'it is bound to another node';
      return { action: 'refuse', reason: `install token ${token.id} cannot register this machine: ${why}` };
    }
    if (token.purpose === 'discovery') {
      return { action: 'conflict', nodeIds: [nodeId], reason: `discovery token ${token.id} presented with the identity of known node ${nodeId}` };
    }
    return { action: 'pending-approval', nodeId, reason: `node ${nodeId} registered again without its credential (disk wiped or replaced?); an operator must approve the re-enrolment` };
  }

  if (token === null) {
    if (proof.credentialOf !== null) {
      return { action: 'conflict', nodeIds: [proof.credentialOf], reason: `presents node ${proof.credentialOf}'s credential with an identity that matches no known node` };
    }
    return noProof;
  }
  if (token.purpose === 'install') return { action: 'refuse', reason: `install token ${token.id} registers only the node it was made for` };
  if (token.purpose === 'discovery') {
    const macs = normalizeIdentity(identity).macs;
    if (token.mac === null || !macs.includes(token.mac)) {
      return { action: 'refuse', reason: `discovery token ${token.id} was handed to MAC ${token.mac ?? '?'}, which this machine does not report` };
    }
    return { action: 'create', discovered: true };
  }
  return { action: 'create', discovered: false };
}
