// The MQTT topic scheme (ARCHITECTURE.md) and who may use which topic.

export const topicRoot = 'mf/v1/nodes';

export const nodeTopicKinds = ['status', 'telemetry', 'health', 'commands', 'progress'] as const;
export type NodeTopicKind = (typeof nodeTopicKinds)[number];

/** Topics a node publishes to; `commands` flows the other way. */
const agentPublishes: ReadonlySet<string> = new Set<NodeTopicKind>(['status', 'telemetry', 'health', 'progress']);

const nodeIdPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function isValidNodeId(nodeId: string): boolean {
  return nodeIdPattern.test(nodeId);
}

export function nodeTopic(nodeId: string, kind: NodeTopicKind): string {
  if (!isValidNodeId(nodeId)) throw new Error(`invalid node id for a topic: ${JSON.stringify(nodeId)}`);
  return `${topicRoot}/${nodeId}/${kind}`;
}

/** Subscription filter for one kind of topic across all nodes (the manager's side). */
export function allNodesTopic(kind: NodeTopicKind): string {
  return `${topicRoot}/+/${kind}`;
}

export function parseNodeTopic(topic: string): { nodeId: string; kind: NodeTopicKind } | null {
  const parts = topic.split('/');
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}/${parts[2]}` !== topicRoot) return null;
  const nodeId = parts[3] ?? '';
  const kind = parts[4] ?? '';
  if (!isValidNodeId(nodeId) || !(nodeTopicKinds as readonly string[]).includes(kind)) return null;
  return { nodeId, kind: kind as NodeTopicKind };
}

/** A node may publish only its own status, telemetry, health and progress. */
export function mayPublish(nodeId: string, topic: string): boolean {
  const parsed = parseNodeTopic(topic);
  return parsed !== null && parsed.nodeId === nodeId && agentPublishes.has(parsed.kind);
}

/** A node may subscribe only to its own commands, with no wildcards. */
export function maySubscribe(nodeId: string, filter: string): boolean {
  return isValidNodeId(nodeId) && filter === `${topicRoot}/${nodeId}/commands`;
}
