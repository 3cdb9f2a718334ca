// Two agents holding one node's credential (a disk cloned with its state
// directory, a second agent started by hand) take each other's broker session
// in turn: the broker keeps one session per node and hands it to whoever
// connected last. Each agent run names its session with a random id in its
// status messages, so the manager can tell: a restarted agent brings a new id
// and never an old one back, but two agents bring back an id that another had
// already replaced.

/** How many of a node's latest session ids are remembered. */
export const rememberedSessions = 4;

export type SessionSeen =
  | { shared: false; sessions: readonly string[] }
  /** `sessionId` came back after `replacedBy` had taken over from it: two agents at once. */
  | { shared: true; sessions: readonly string[]; sessionId: string; replacedBy: string };

/** A node's agent reported `sessionId` online; `sessions` are the ids seen before, newest last. */
export function sessionSeen(sessions: readonly string[], sessionId: string): SessionSeen {
  const newest = sessions.at(-1);
  if (sessionId === '' || sessionId === newest) return { shared: false, sessions };
  const seen = [...sessions.filter((s) => s !== sessionId), sessionId].slice(-rememberedSessions);
  if (newest !== undefined && sessions.includes(sessionId)) return { shared: true, sessions: seen, sessionId, replacedBy: newest };
  return { shared: false, sessions: seen };
}

/** Which connection a status came from: the agent's session id and which of the session's connections (0: not said). */
export interface AgentConnection {
  session: string;
  connection: number;
}

/**
 * How the connection a node is online in is stored: the session id, then its connection number zero-padded, so that
 * of one session's keys a later connection's sorts after an earlier one's (an old "online" delivered late never
 * replaces it). An agent that names no connection is known by its session id alone.
 */
export function connectionKey(agent: AgentConnection): { key: string; sessionPrefix: string } {
  // Without NUL, which PostgreSQL's text cannot hold (an agent's ids never have one; a tenant's may).
  const sessionPrefix = `${agent.session.replaceAll('\0', '')}#`;
  return { key: agent.connection > 0 ? `${sessionPrefix}${String(agent.connection).padStart(10, '0')}` : sessionPrefix.slice(0, -1), sessionPrefix };
}
