// What an operator may type for a node or a tenant, and what each names.
import { describe, expect, it } from 'vitest';
import { resolveAmong, type Named } from './resolve.ts';

const fleet: Named[] = [
  { id: 'f7f5cff4-1111-4000-8000-000000000001', name: 'sim-001' },
  { id: 'f7f5aaaa-2222-4000-8000-000000000002', name: 'sim-002' },
  { id: '0a1b2c3d-3333-4000-8000-000000000003', name: 'gpu-a' },
  { id: '9e8d7c6b-4444-4000-8000-000000000004', name: 'gpu-a' }, // two machines given one hostname
  { id: 'abcd0000-5555-4000-8000-000000000005', name: 'f7f5cff4-1111-4000-8000-000000000001' }, // a hostname that is another's id
  { id: '3f2a9c1b-6666-4000-8000-000000000006', name: 'victim' },
  { id: 'beef0000-7777-4000-8000-000000000007', name: '3f2a9c1b' }, // a tenant named its node after another node's short id
];

describe('resolveAmong', () => {
  it.each<[string, string, string]>([
    ['a full id', 'f7f5cff4-1111-4000-8000-000000000001', 'one f7f5cff4-1111-4000-8000-000000000001'],
    ['a full id in capitals', 'F7F5CFF4-1111-4000-8000-000000000001', 'one f7f5cff4-1111-4000-8000-000000000001'],
    ['the dashboard\'s 8 characters', 'f7f5cff4', 'one f7f5cff4-1111-4000-8000-000000000001'],
    ['a hostname', 'sim-002', 'one f7f5aaaa-2222-4000-8000-000000000002'],
    ['a hostname with spaces around it', ' sim-002 ', 'one f7f5aaaa-2222-4000-8000-000000000002'],
    ['a prefix two ids share', 'f7f5', 'ambiguous f7f5cff4-1111-4000-8000-000000000001,f7f5aaaa-2222-4000-8000-000000000002'],
    ['a hostname two machines share', 'gpu-a', 'ambiguous 0a1b2c3d-3333-4000-8000-000000000003,9e8d7c6b-4444-4000-8000-000000000004'],
    ['a prefix shorter than 4 characters', 'f7f', 'none'],
    ['one character', '9', 'none'],
    ['nothing that matches', 'sim-404', 'none'],
    ['an empty text', '', 'none'],
    ['a hostname is a name, not a prefix', 'sim', 'none'],
    ['a hostname that is another node\'s short id (hostile review)', '3f2a9c1b', 'ambiguous 3f2a9c1b-6666-4000-8000-000000000006,beef0000-7777-4000-8000-000000000007'],
  ])('%s (%j): %s', (_, ref, expected) => {
    const result = resolveAmong(ref, fleet);
    const shown = result.kind === 'one' ? `one ${result.id}` : result.kind === 'ambiguous' ? `ambiguous ${result.matches.map((m) => m.id).join(',')}` : 'none';
    expect(shown).toBe(expected);
  });
});
