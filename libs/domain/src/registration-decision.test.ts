import { describe, expect, it } from 'vitest';
import type { IdentityMatch, NodeIdentity } from './node-identity.ts';
import { decideRegistration, type RegistrationProof } from './registration-decision.ts';

const identity: NodeIdentity = { systemUuid: 'u1', systemSerial: 'S1', chassisSerial: '', boardSerial: '', macs: ['0c:42:a1:00:00:01'], bmcAddress: '' };
const known: IdentityMatch = { kind: 'known', nodeId: 'n1' };
const fresh: IdentityMatch = { kind: 'new' };
const partial: IdentityMatch = { kind: 'conflict', nodeIds: ['n1'], reason: 'partial match with node n1: system serial S9 (known: S1)' };

const none: RegistrationProof = { credentialOf: null, token: null, tokenError: 'bootstrap token missing', installInProgress: false, approvedAs: null, retryOf: null };
const operator = { ...none, tokenError: null, token: { purpose: 'operator', id: 't-op', nodeId: null, commandId: null, mac: null } } satisfies RegistrationProof;
const discovery = (mac: string) => ({ ...none, tokenError: null, token: { purpose: 'discovery', id: 't-disc', nodeId: null, commandId: null, mac } }) satisfies RegistrationProof;
const install = (nodeId: string, installInProgress: boolean) =>
  ({ ...none, tokenError: null, installInProgress, token: { purpose: 'install', id: 't-inst', nodeId, commandId: 'c1', mac: null } }) satisfies RegistrationProof;

describe('decideRegistration', () => {
  const cases: Array<{ name: string; match: IdentityMatch; proof: RegistrationProof; expected: object }> = [
    { name: 'new machine, operator token: created, admitted', match: fresh, proof: operator, expected: { action: 'create', discovered: false } },
    { name: 'new machine, discovery token for its MAC: created as discovered', match: fresh, proof: discovery('0c:42:a1:00:00:01'), expected: { action: 'create', discovered: true } },
    { name: 'new machine, discovery token for another MAC: refused', match: fresh, proof: discovery('0c:42:a1:00:00:99'), expected: { action: 'refuse', reason: expect.stringContaining('0c:42:a1:00:00:99') } },
    { name: 'new machine, install token: refused', match: fresh, proof: install('n1', true), expected: { action: 'refuse' } },
    { name: 'new machine, no token: refused with the token\'s reason', match: fresh, proof: none, expected: { action: 'refuse', reason: 'bootstrap token missing' } },
    { name: 'known node, its credential: returning, no token spent', match: known, proof: { ...none, credentialOf: 'n1' }, expected: { action: 'returning', nodeId: 'n1', via: 'credential', spendToken: false } },
    { name: 'known node, another node\'s credential: conflict', match: known, proof: { ...none, credentialOf: 'n2' }, expected: { action: 'conflict', nodeIds: ['n1', 'n2'] } },
    { name: 'known node, install token for it during its reimage: returning', match: known, proof: install('n1', true), expected: { action: 'returning', nodeId: 'n1', via: 'install-token', spendToken: true } },
    { name: 'known node, install token for it, no reimage in progress: refused', match: known, proof: install('n1', false), expected: { action: 'refuse', reason: expect.stringContaining('not rebooting or installing') } },
    { name: 'known node, install token for another node: refused', match: known, proof: install('n2', true), expected: { action: 'refuse', reason: expect.stringContaining('bound to another node') } },
    { name: 'known node, discovery token: conflict, never its credential', match: known, proof: discovery('0c:42:a1:00:00:01'), expected: { action: 'conflict', nodeIds: ['n1'] } },
    { name: 'known node, operator token (wiped disk): pending approval', match: known, proof: operator, expected: { action: 'pending-approval', nodeId: 'n1' } },
    { name: 'known node, operator token, approved: returning', match: known, proof: { ...operator, approvedAs: 'n1' }, expected: { action: 'returning', nodeId: 'n1', via: 'approval' } },
    { name: 'known node, no proof at all: refused', match: known, proof: none, expected: { action: 'refuse' } },
    { name: 'partial match, operator token: conflict', match: partial, proof: operator, expected: { action: 'conflict', nodeIds: ['n1'], reason: partial.kind === 'conflict' ? partial.reason : '' } },
    { name: 'partial match, the node\'s own credential: still a conflict', match: partial, proof: { ...none, credentialOf: 'n1' }, expected: { action: 'conflict' } },
    { name: 'partial match, approved as that node: returning', match: partial, proof: { ...operator, approvedAs: 'n1' }, expected: { action: 'returning', nodeId: 'n1', via: 'approval' } },
    { name: 'partial match, approved as a node it does not match: conflict', match: partial, proof: { ...operator, approvedAs: 'n7' }, expected: { action: 'conflict' } },
    { name: 'partial match, no proof: refused, nothing recorded', match: partial, proof: none, expected: { action: 'refuse' } },
    // An approval names an identity anyone may have read: it needs a token an operator or the boot endpoint gave this machine.
    { name: 'known node, approved, no token and no credential: refused', match: known, proof: { ...none, approvedAs: 'n1' }, expected: { action: 'refuse', reason: 'bootstrap token missing' } },
    { name: 'partial match, approved, no token: refused', match: partial, proof: { ...none, approvedAs: 'n1' }, expected: { action: 'refuse' } },
    { name: 'known node, approved, discovery token for one of its MACs: returning, token spent', match: known, proof: { ...discovery('0c:42:a1:00:00:01'), approvedAs: 'n1' }, expected: { action: 'returning', nodeId: 'n1', via: 'approval', spendToken: true } },
    { name: 'known node, approved, discovery token for another MAC: not returning', match: known, proof: { ...discovery('0c:42:a1:00:00:99'), approvedAs: 'n1' }, expected: { action: 'conflict' } },
    { name: 'known node, approved, install token for another node: refused', match: known, proof: { ...install('n2', true), approvedAs: 'n1' }, expected: { action: 'refuse' } },
    { name: 'known node, the token whose use registered it (lost reply): returning, no second use', match: known, proof: { ...operator, retryOf: 'n1' }, expected: { action: 'returning', nodeId: 'n1', via: 'retry', spendToken: false } },
    { name: 'known node, a token that registered another node: not a retry', match: known, proof: { ...operator, retryOf: 'n2' }, expected: { action: 'pending-approval', nodeId: 'n1' } },
    { name: 'known node, install token that registered it, reimage in progress: returning', match: known, proof: { ...install('n1', true), retryOf: 'n1' }, expected: { action: 'returning', via: 'retry', spendToken: false } },
    { name: 'known node, install token that registered it, reimage over: refused', match: known, proof: { ...install('n1', false), retryOf: 'n1' }, expected: { action: 'refuse' } },
    { name: 'known node, approved, operator token: returning, token spent', match: known, proof: { ...operator, approvedAs: 'n1' }, expected: { action: 'returning', via: 'approval', spendToken: true } },
  ];

  it.each(cases)('$name', ({ match, proof, expected }) => {
    expect(decideRegistration(identity, match, proof)).toMatchObject(expected);
  });
});
