import { describe, expect, it } from 'vitest';
import { resolveSettings } from './cli-config.ts';

describe('the manager URL', () => {
  it.each([
    ['127.0.0.1:7470', /"127.0.0.1:7470" has no scheme: the manager serves its API over HTTPS, e.g. https:\/\/127.0.0.1:7470 /],
    ['localhost:7470', /e\.g\. https:\/\/localhost:7470 /],
    ['mgr.example', /e\.g\. https:\/\/mgr\.example /],
    ['ftp://mgr.example', /not an http:\/\/ or https:\/\/ URL/],
  ])('%s: a usage error with a hint', (manager, message) => {
    expect(() => resolveSettings({ manager }, {})).toThrow(message);
  });

  it('takes https:// and http:// URLs', () => {
    expect(resolveSettings({ manager: 'https://127.0.0.1:7470' }, {}).manager).toBe('https://127.0.0.1:7470');
    expect(resolveSettings({ manager: 'http://m:7470' }, {}).manager).toBe('http://m:7470');
  });
});
