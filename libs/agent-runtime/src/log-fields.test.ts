import { describe, expect, it } from 'vitest';
import { DomainError } from '@metalfleet/domain';
import { failureFields } from './log-fields.ts';

describe('failureFields', () => {
  it('gives an expected failure one line (code and message), and keeps a bug\'s stack', () => {
    expect(failureFields(new DomainError('unavailable', 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:7471')))
      .toEqual({ code: 'unavailable', reason: 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:7471' });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:7472'), { code: 'ECONNREFUSED' });
    expect(failureFields(refused)).toEqual({ code: 'ECONNREFUSED', reason: 'connect ECONNREFUSED 127.0.0.1:7472' });
    const bug = new TypeError('x is undefined');
    expect(failureFields(bug)).toEqual({ err: bug });
    // Node's and SQLite's own codes are bugs, not outages (review).
    for (const code of ['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE', 'ERR_SQLITE_ERROR']) {
      const coded = Object.assign(new Error(code), { code });
      expect(failureFields(coded)).toEqual({ err: coded });
    }
  });
});
