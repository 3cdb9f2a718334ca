import { describe, expect, it } from 'vitest';
import { connectionHint } from './api-client.ts';

describe('connectionHint', () => {
  it.each([
    ['https://m:7470', { code: 'SELF_SIGNED_CERT_IN_CHAIN' }, /--ca-file <dataDir>\/pki\/ca.crt/],
    ['https://m:7470', { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, /not trusted/],
    ['http://m:7470', { code: 'UND_ERR_SOCKET', message: 'other side closed' }, /use --manager https:\/\/m:7470/],
    ['https://m:7470', { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }, /use --manager http:\/\/m:7470/],
    ['https://m:7470', { code: 'ECONNREFUSED' }, /^$/],
  ])('%s, %o', (url, cause, hint) => {
    expect(connectionHint(url, cause)).toMatch(hint);
  });
});
