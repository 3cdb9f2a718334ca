// What a node's OS may make the manager keep through health messages: bounded.
import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { HealthChangeKind, HealthMessageSchema, Remediation, Severity } from '@metalfleet/proto';
import { conditionsAfter, healthLimits, healthMessageToRecord } from './health-ingest.ts';

const at = new Date('2026-11-27T12:00:00Z');
const condition = (code: string, message = 'GPU hot') => ({ component: 'gpu0', code, severity: Severity.WARNING, remediation: Remediation.NONE, message });
const event = (codes: string[], kind = HealthChangeKind.APPEARED, message?: string) => create(HealthMessageSchema, {
  kind: { case: 'event', value: { eventId: 'event-0001', sequence: 1n, changes: codes.map((code) => ({ kind, condition: condition(code, message) })) } },
});
const digest = (codes: string[], message?: string) => create(HealthMessageSchema, { kind: { case: 'digest', value: { conditions: codes.map((c) => condition(c, message)) } } });
const codes = (n: number, prefix = 'c') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('health messages from a node', () => {
  it.each([
    ['an event with more changes than the limit', event(codes(healthLimits.changesPerEvent + 1)), /changes \(limit 256\)/],
    ['a digest with more conditions than the limit', digest(codes(healthLimits.conditionsPerNode + 1)), /257 conditions \(limit 256\)/],
    ['an event whose message is 225 KB', event(['xid-79'], HealthChangeKind.APPEARED, 'x'.repeat(225_000)), /over 64, 64 or 1024 characters/],
    ['a digest with a 1 MB code', digest(['y'.repeat(1_000_000)]), /over 64, 64 or 1024 characters/],
    // What the store cannot hold (PostgreSQL text holds no NUL; a bigint no 2^64-1): never stored, so refused, not retried forever.
    ['an event whose message holds a NUL (a DMI string read raw)', event(['xid-79'], HealthChangeKind.APPEARED, 'NVIDIA H100\u0000\u0000'), /holding a NUL/],
    ['a digest whose code holds a NUL', digest(['xid\u000079']), /holding a NUL/],
    ['an event with a sequence beyond an exact number', create(HealthMessageSchema, {
      kind: { case: 'event', value: { eventId: 'event-0002', sequence: 2n ** 64n - 1n, changes: [{ kind: HealthChangeKind.APPEARED, condition: condition('xid-79') }] } },
    }), /sequence 18446744073709551615/],
  ])('refuses %s, whole', (_name, message, error) => {
    expect(healthMessageToRecord(message, at)).toMatchObject({ ok: false, error: expect.stringMatching(error) });
  });

  it('keeps the raw lines that raised a condition, within bounds', () => {
    const withLines = (evidence: string[]) => create(HealthMessageSchema, {
      kind: { case: 'event', value: { eventId: 'event-0003', sequence: 3n, changes: [{ kind: HealthChangeKind.APPEARED, condition: condition('xid-79'), evidence }] } },
    });
    const line = 'NVRM: Xid (PCI:0000:9b:00): 79, pid=\'<unknown>\', name=<unknown>, GPU has fallen off the bus.';
    expect(healthMessageToRecord(withLines([line]), at)).toMatchObject({ ok: true, event: { changes: [{ kind: 'appeared', evidence: [line] }] } });
    for (const bad of [[line, line, line, line], ['x'.repeat(healthLimits.messageChars + 1)], ['a\u0000b']]) {
      expect(healthMessageToRecord(withLines(bad), at)).toMatchObject({ ok: false, error: expect.stringMatching(/evidence lines/) });
    }
  });

  it('takes what a real node sends', () => {
    expect(healthMessageToRecord(event(codes(healthLimits.changesPerEvent)), at)).toMatchObject({ ok: true, kind: 'event' });
    expect(healthMessageToRecord(digest(codes(40), 'x'.repeat(healthLimits.messageChars)), at)).toMatchObject({ ok: true, kind: 'digest' });
  });

  it('counts the conditions a node would hold after an event, so ever new codes cannot pile up', () => {
    const first = healthMessageToRecord(event(codes(200)), at);
    const more = healthMessageToRecord(event(codes(100, 'd')), at);
    const clear = healthMessageToRecord(event(codes(150), HealthChangeKind.CLEARED), at);
    if (!first.ok || first.kind !== 'event' || !more.ok || more.kind !== 'event' || !clear.ok || clear.kind !== 'event') throw new Error('fixture');
    const held = first.event.changes.map((c) => c.condition);
    expect(conditionsAfter([], first.event)).toBe(200);
    expect(conditionsAfter(held, more.event)).toBe(300);
    expect(conditionsAfter(held, clear.event)).toBe(50);
    expect(conditionsAfter(held, first.event)).toBe(200);
  });
});
