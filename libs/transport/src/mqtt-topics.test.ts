import { describe, expect, it } from 'vitest';
import { mayPublish, maySubscribe, nodeTopic, parseNodeTopic } from './mqtt-topics.ts';

describe('topic ACL', () => {
  it.each([
    ['n1', 'mf/v1/nodes/n1/status', true],
    ['n1', 'mf/v1/nodes/n1/telemetry', true],
    ['n1', 'mf/v1/nodes/n1/health', true],
    ['n1', 'mf/v1/nodes/n1/progress', true],
    ['n1', 'mf/v1/nodes/n1/commands', false],
    ['n1', 'mf/v1/nodes/n2/status', false],
    ['n1', 'mf/v1/nodes/n1/status/extra', false],
    ['n1', 'mf/v1/nodes/+/status', false],
    ['n1', '$SYS/broker', false],
    ['', 'mf/v1/nodes//status', false],
  ])('node %s publishing %s: %s', (nodeId, topic, allowed) => {
    expect(mayPublish(nodeId, topic)).toBe(allowed);
  });

  it.each([
    ['n1', 'mf/v1/nodes/n1/commands', true],
    ['n1', 'mf/v1/nodes/n2/commands', false],
    ['n1', 'mf/v1/nodes/+/commands', false],
    ['n1', 'mf/v1/nodes/#', false],
    ['n1', '#', false],
    ['n1', 'mf/v1/nodes/n1/status', false],
  ])('node %s subscribing %s: %s', (nodeId, filter, allowed) => {
    expect(maySubscribe(nodeId, filter)).toBe(allowed);
  });

  it('builds and parses topics, refusing ids that would be wildcards', () => {
    expect(parseNodeTopic(nodeTopic('abc-1', 'telemetry'))).toEqual({ nodeId: 'abc-1', kind: 'telemetry' });
    expect(() => nodeTopic('a/+', 'status')).toThrow(/invalid node id/);
    expect(parseNodeTopic('mf/v1/nodes/abc/unknown')).toBeNull();
  });
});
