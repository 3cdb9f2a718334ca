// The event stream as a tenant sees it: only its own nodes, tenant and
// operation entries, even from an operation that touches another tenant's
// nodes; and a stream that ends, saying why, when its token stops working.
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Value } from 'typebox/value';
import { StateChangedEvent, StreamEnded, StreamEvent } from '@metalfleet/api';
import { formatApiToken, noEvidence } from '@metalfleet/domain';
import { createApiTokens, hashSecret, newSecret } from '@metalfleet/fleet';
import { installAccessControl } from './access.ts';
import { installErrorHandling } from './errors.ts';
import { eventStreamRoutes } from './event-stream.ts';
import { giveNode, startTestApp, testTime as at, type TestApp } from './test-app.ts';

let t: TestApp;
let base = '';
let tenantA = '';
let tenantB = '';

interface SseEvent { id?: string; event: string; data: Record<string, unknown> }

/** An open stream: what arrived so far, read on until a condition holds (or the stream ends, or 5 s pass). */
async function openStream(token: string, url = base, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/api/v1/events`, { headers: { authorization: `Bearer ${token}`, ...headers } });
  expect(response.status).toBe(200);
  const reader = response.body?.getReader();
  if (!reader) throw new Error('no body');
  const decoder = new TextDecoder();
  let text = '';
  let ended = false;
  // Whole events only: the text after the last blank line may be half an event still on its way.
  const parsed = (): SseEvent[] => text.split('\n\n').slice(0, -1).flatMap((block) => {
    const id = /^id: (.*)$/m.exec(block)?.[1];
    const event = /^event: (.*)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)?.[1];
    return event && data ? [{ event, data: JSON.parse(data) as Record<string, unknown>, ...(id ? { id } : {}) }] : [];
  });
  return {
    get text() {
      return text;
    },
    get ended() {
      return ended;
    },
    events: parsed,
    async until(condition: (events: SseEvent[]) => boolean): Promise<SseEvent[]> {
      const deadline = Date.now() + 5000;
      while (!condition(parsed()) && !ended && Date.now() < deadline) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((done) => (timer = setTimeout(() => done('timeout'), deadline - Date.now())));
        const chunk = await Promise.race([reader.read(), timeout]);
        clearTimeout(timer);
        if (chunk === 'timeout') break;
        if (chunk.done) ended = true;
        else text += decoder.decode(chunk.value, { stream: true });
      }
      return parsed();
    },
    close: () => reader.cancel(),
  };
}

async function tokenFor(name: string, role: 'operator' | 'viewer', tenantId: string | null): Promise<{ id: string; token: string }> {
  const created = await t.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name, role, tenantId } });
  expect(created.statusCode).toBe(201);
  return created.json<{ id: string; token: string }>();
}

beforeAll(async () => {
  t = await startTestApp();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const address = t.app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  tenantA = (await t.inject({ method: 'POST', url: '/api/v1/tenants', payload: { name: 'tenant-a' } })).json<{ id: string }>().id;
  tenantB = (await t.inject({ method: 'POST', url: '/api/v1/tenants', payload: { name: 'tenant-b' } })).json<{ id: string }>().id;
  // n2 is A's, n1 is B's.
  await giveNode(t.store, 'n2', tenantA);
  await giveNode(t.store, 'n1', tenantB);
});

afterAll(async () => {
  await t.close();
});

describe('GET /api/v1/events for a tenant-scoped token', () => {
  it('shows tenant A nothing of tenant B from an operation that touches both: only A\'s own entries, counted alone', async () => {
    const { token } = await tokenFor('a-operator', 'operator', tenantA);
    const progress = (phase: 'done' | 'failed') => ({ phase, powerCycles: 0, deadlineAt: null, message: phase, evidence: noEvidence(), failure: null });
    await t.store.createOperation(
      { id: 'op-ab', kind: 'reimage', state: 'running', image: { name: 'gpu-os', version: '1' }, priority: 0, urgent: false, actor: 'admin', reason: 'fleet upgrade', createdAt: at, updatedAt: at },
      [['n1', tenantB, 'failed'], ['n2', tenantA, 'done']].map(([nodeId = '', tenant = '', phase], position) => (
        { operationId: 'op-ab', nodeId, position, rack: '', tenant, progress: progress(phase as 'done' | 'failed'), commandId: null, updatedAt: at })),
    );
    const stream = await openStream(token);
    await stream.until((e) => e.length === 0 && stream.text.includes(': connected'));
    const emit = t.events.emit.bind(t.events);
    emit({ type: 'operation-created', operationId: 'op-ab', kind: 'reimage', nodes: 2, reason: 'fleet upgrade', at });
    emit({ type: 'operation-progress', operationId: 'op-ab', nodeId: 'n1', phase: 'draining', message: 'B draining', at });
    emit({ type: 'operation-progress', operationId: 'op-ab', nodeId: 'n2', phase: 'draining', message: 'A draining', at });
    emit({ type: 'command-sent', commandId: 'c1', nodeId: 'n1', kind: 'reimage', attempt: 1, at });
    emit({ type: 'command-progress', commandId: 'c1', nodeId: 'n1', operationId: 'op-ab', phase: 'failed', message: 'B failed', verifiedSha256: '', at });
    emit({ type: 'command-progress', commandId: 'c2', nodeId: 'n2', operationId: 'op-ab', phase: 'succeeded', message: 'A written', verifiedSha256: '', at });
    emit({ type: 'identity-conflict', conflictId: '1', kind: 'mismatch', nodeIds: ['n2', 'n1'], reason: 'both claim one serial', at });
    emit({ type: 'node-tenant-changed', nodeId: 'n1', tenantId: tenantB, previous: null, at });
    emit({ type: 'tenant-created', tenantId: tenantB, name: 'tenant-b', vlan: 101, vni: 5001, at });
    emit({ type: 'alert-changed', fingerprint: 'f', rule: 'r', severity: 'critical', from: null, to: 'firing', summary: 'B burns', tenantId: tenantB, at });
    emit({ type: 'operation-finished', operationId: 'op-ab', state: 'failed', done: 1, failed: 1, at });
    emit({ type: 'presence-changed', nodeId: 'n2', presence: 'offline', reason: 'last one', at });
    const seen = await stream.until((e) => e.some((x) => x.data['reason'] === 'last one'));
    await stream.close();
    expect(seen.map((e) => [e.event, e.data['nodeId'] ?? e.data['operationId']])).toEqual([
      ['operation-created', 'op-ab'], ['operation-progress', 'n2'], ['command-progress', 'n2'], ['operation-finished', 'op-ab'], ['presence-changed', 'n2'],
    ]);
    // The operation as A sees it: its one node, which succeeded.
    expect(seen[0]?.data['nodes']).toBe(1);
    expect(seen[3]?.data).toMatchObject({ state: 'succeeded', done: 1, failed: 0 });
    expect(stream.text).not.toContain('n1');
    expect(stream.text).not.toContain(tenantB);
    expect(stream.text).not.toContain('B ');
  });

  it('ends a stream with a last stream-ended event when its token is revoked', async () => {
    const { id, token } = await tokenFor('a-viewer', 'viewer', tenantA);
    const stream = await openStream(token);
    t.events.emit({ type: 'presence-changed', nodeId: 'n2', presence: 'online', reason: 'before', at });
    await stream.until((e) => e.some((x) => x.data['reason'] === 'before'));
    expect((await t.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}` })).statusCode).toBe(204);
    const seen = await stream.until(() => false);
    expect(stream.ended).toBe(true);
    expect(seen.at(-1)).toEqual({ event: 'stream-ended', data: { reason: 'token-revoked' } });
    // Nothing comes after it.
    t.events.emit({ type: 'presence-changed', nodeId: 'n2', presence: 'offline', reason: 'after', at });
    expect(stream.text).not.toContain('after');
  });

  it('ends a stream when its token expires, at the expiry time', async () => {
    const secret = newSecret();
    const now = new Date(at.getTime() + 5000); // the test app's clock
    await t.store.createApiToken({
      id: 'shortlived1', name: 'short', role: 'viewer', tenantId: tenantA, secretHash: hashSecret(secret), createdAt: now,
      expiresAt: new Date(now.getTime() + 300), revokedAt: null, lastUsedAt: null,
    });
    const stream = await openStream(formatApiToken('shortlived1', secret));
    const seen = await stream.until(() => false);
    expect(stream.ended).toBe(true);
    expect(seen).toEqual([{ event: 'stream-ended', data: { reason: 'token-expired' } }]);
  });

  it('an unscoped admin stream still sees every event', async () => {
    const stream = await openStream(t.bearer['admin'] ?? '');
    t.events.emit({ type: 'presence-changed', nodeId: 'n1', presence: 'online', reason: 'admin sees B', at });
    const seen = await stream.until((e) => e.length > 0);
    await stream.close();
    expect(seen.map((e) => e.data['reason'])).toEqual(['admin sees B']);
  });

  it('ends a stream whose token was revoked elsewhere (another replica) at the next re-check', async () => {
    // The stream alone, re-checking every 100 ms; the revocation goes straight to the store, as another manager's would.
    const now = () => new Date(at.getTime() + 5000);
    const apiTokens = createApiTokens({ store: t.store, now });
    const app = Fastify({ logger: false });
    installErrorHandling(app);
    installAccessControl(app, { tokens: apiTokens, store: t.store, now });
    await app.register(eventStreamRoutes, { feed: t.feed, store: t.store, apiTokens, now, tokenRecheckMs: 100 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { id, token } = await tokenFor('elsewhere', 'viewer', tenantA);
      const address = app.server.address();
      const stream = await openStream(token, `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
      await stream.until((e) => e.length === 0 && stream.text.includes(': connected'));
      expect(await t.store.revokeApiToken(id, now())).toBe(true);
      const seen = await stream.until(() => false);
      expect([stream.ended, seen]).toEqual([true, [{ event: 'stream-ended', data: { reason: 'token-revoked' } }]]);
    } finally {
      await app.close();
    }
  });
});

describe('GET /api/v1/events for many clients', () => {
  it('feeds every open stream from one reader of the event journal, and stops reading when the last one closes', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const streams = [];
      for (let i = 0; i < 40; i += 1) {
        const stream = await openStream(t.bearer['admin'] ?? '');
        await stream.until(() => stream.text.includes(': connected'));
        streams.push(stream);
      }
      await expect.poll(() => t.feed.size()).toBe(40);
      const reads = vi.spyOn(t.store, 'eventsAfter');
      t.events.emit({ type: 'presence-changed', nodeId: 'n1', presence: 'online', reason: 'to all forty', at });
      for (const stream of streams) {
        const seen = await stream.until((e) => e.some((x) => x.data['reason'] === 'to all forty'));
        expect(seen.map((e) => e.data['reason'])).toContain('to all forty');
      }
      // One read for all forty (a second when a wake-up came while the first was reading), not one per stream.
      expect(reads.mock.calls.length).toBeLessThanOrEqual(3);
      reads.mockRestore();
      for (const stream of streams) await stream.close();
      await expect.poll(() => t.feed.size()).toBe(0);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('sends each event in its API shape: valid against its schema, without the manager\'s internal fields', async () => {
    const stream = await openStream(t.bearer['admin'] ?? '');
    await stream.until(() => stream.text.includes(': connected'));
    t.events.emit({
      type: 'state-changed', nodeId: 'n1', from: 'available', to: 'failed', event: 'fail', actor: 'health', reason: 'XID 79',
      effects: ['isolate-from-tenant', 'request-replacement'], at,
    });
    t.events.emit({ type: 'boot-script-served', nodeId: null, mac: 'aa:bb:cc:00:00:09', commandId: null, purpose: 'discovery', peer: '10.0.0.9', at });
    const seen = await stream.until((e) => e.length === 2);
    await stream.close();
    expect(seen[0]?.event).toBe('state-changed');
    expect(Value.Check(StateChangedEvent, seen[0]?.data)).toBe(true);
    expect(seen[0]?.data).toEqual({ type: 'state-changed', nodeId: 'n1', from: 'available', to: 'failed', event: 'fail', actor: 'health', reason: 'XID 79', at: at.toISOString() });
    expect(stream.text).not.toContain('request-replacement');
    for (const e of seen) expect([e.event, Value.Check(StreamEvent, e.data)]).toEqual([e.data['type'], true]);
    // A payload with a field the schema does not list is refused, so a leak is caught here.
    expect(Value.Check(StateChangedEvent, { ...seen[0]?.data, effects: [] })).toBe(false);
    expect(Value.Check(StreamEnded, { reason: 'token-revoked' })).toBe(true);
  });

  it('replays what came after Last-Event-ID to a client that reconnects, in order, then goes on live', async () => {
    const admin = t.bearer['admin'] ?? '';
    const first = await openStream(admin);
    await first.until(() => first.text.includes(': connected'));
    t.events.emit({ type: 'presence-changed', nodeId: 'n1', presence: 'online', reason: 'seen before the drop', at });
    const before = await first.until((e) => e.some((x) => x.data['reason'] === 'seen before the drop'));
    await first.close();
    const lastId = before.find((x) => x.data['reason'] === 'seen before the drop')?.id ?? '';
    expect(lastId).toMatch(/^\d+$/);
    for (const reason of ['missed 1', 'missed 2']) t.events.emit({ type: 'presence-changed', nodeId: 'n1', presence: 'offline', reason, at });
    await t.journal.flushed();
    const back = await openStream(admin, base, { 'last-event-id': lastId });
    await back.until((e) => e.length === 2);
    t.events.emit({ type: 'presence-changed', nodeId: 'n1', presence: 'online', reason: 'live again', at });
    const seen = await back.until((e) => e.length === 3);
    await back.close();
    expect(seen.map((e) => e.data['reason'])).toEqual(['missed 1', 'missed 2', 'live again']);
    expect(seen.map((e) => Number(e.id))).toEqual([Number(lastId) + 1, Number(lastId) + 2, Number(lastId) + 3]);
  });

  it('refuses a Last-Event-ID that is not an event id, and starts from now for one ahead of the journal', async () => {
    const refused = await fetch(`${base}/api/v1/events`, { headers: { authorization: `Bearer ${t.bearer['admin'] ?? ''}`, 'last-event-id': '12; DROP' } });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: { code: 'invalid-argument', message: 'Last-Event-ID must be the id of an event this stream sent (a whole number), not "12; DROP"' } });
    const ahead = await openStream(t.bearer['admin'] ?? '', base, { 'last-event-id': '999999999' });
    await ahead.until(() => ahead.text.includes(': connected'));
    t.events.emit({ type: 'presence-changed', nodeId: 'n1', presence: 'online', reason: 'after a far id', at });
    const seen = await ahead.until((e) => e.length > 0);
    await ahead.close();
    expect(seen.map((e) => e.data['reason'])).toEqual(['after a far id']);
  });

  it('replays a long journal to a tenant stream a page at a time, as fast as it is looked up: every event once, in order', async () => {
    const { token } = await tokenFor('a-replay', 'viewer', tenantA);
    const from = String(await t.store.lastEventSeq());
    for (let i = 0; i < 7000; i++) t.events.emit({ type: 'presence-changed', nodeId: 'n2', presence: 'online', reason: `replay ${i}`, at });
    await t.journal.flushed();
    const reasons: string[] = [];
    let lastId = from;
    let connections = 0;
    while (reasons.length < 7000 && connections < 50) {
      connections += 1;
      const stream = await openStream(token, base, { 'last-event-id': lastId });
      const seen = await stream.until((events) => events.length >= 7000);
      await stream.close().catch(() => undefined);
      for (const e of seen) {
        reasons.push(String(e.data['reason']));
        lastId = e.id ?? lastId;
      }
    }
    expect(reasons).toEqual(Array.from({ length: 7000 }, (_, i) => `replay ${i}`));
  }, 60_000);
});

