import { describe, expect, it } from 'vitest';
import { rememberedSessions, sessionSeen } from './agent-sessions.ts';

const run = (ids: readonly string[]) => {
  let sessions: readonly string[] = [];
  return ids.map((id) => {
    const seen = sessionSeen(sessions, id);
    sessions = seen.sessions;
    return seen.shared ? `${seen.sessionId}<-${seen.replacedBy}` : '-';
  });
};

describe('sessionSeen', () => {
  it.each([
    { name: 'one agent reconnecting keeps its session', ids: ['a', 'a', 'a'], expected: ['-', '-', '-'] },
    { name: 'restarts bring new sessions, never an old one', ids: ['a', 'b', 'c', 'd', 'e'], expected: ['-', '-', '-', '-', '-'] },
    { name: 'two agents taking turns', ids: ['a', 'b', 'a', 'b'], expected: ['-', '-', 'a<-b', 'b<-a'] },
    { name: 'a second agent found after restarts', ids: ['a', 'b', 'c', 'b'], expected: ['-', '-', '-', 'b<-c'] },
    { name: 'an agent from before a status without a session id', ids: ['', 'a', '', 'a'], expected: ['-', '-', '-', '-'] },
  ])('$name', ({ ids, expected }) => {
    expect(run(ids)).toEqual(expected);
  });

  it(`remembers the latest ${rememberedSessions} sessions of a node, no more`, () => {
    const ids = Array.from({ length: 10 }, (_, i) => `s${i}`);
    expect(run([...ids, 's0'])).toEqual(Array(11).fill('-'));
    expect(run([...ids, 's6']).at(-1)).toBe('s6<-s9');
  });
});
