import { describe, expect, it } from 'vitest';
import { createRegistrationAdmission } from './registration-admission.ts';

describe('registration admission', () => {
  it('runs at most the limit at once and refuses the rest at once as unavailable with the retry-after hint, then admits again', async () => {
    const admission = createRegistrationAdmission({ concurrent: 2, retryAfterMs: 300 });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = admission.run(() => held.then(() => 'a'));
    const second = admission.run(() => held.then(() => 'b'));
    await expect(admission.run(async () => 'c')).rejects.toMatchObject({ code: 'unavailable', details: { retryAfterMs: 300 } });
    expect(admission.active()).toBe(2);
    expect(admission.refused()).toBe(1);
    release();
    expect(await Promise.all([first, second])).toEqual(['a', 'b']);
    expect(await admission.run(async () => 'd')).toBe('d');
    expect(admission.active()).toBe(0);
  });

  it('frees the slot of work that failed', async () => {
    const admission = createRegistrationAdmission({ concurrent: 1, retryAfterMs: 300 });
    await expect(admission.run(async () => Promise.reject(new Error('store down')))).rejects.toThrow('store down');
    expect(await admission.run(async () => 'next')).toBe('next');
  });
});
