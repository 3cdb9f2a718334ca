// Which failed registrations the agent says at once rather than after its quiet start (retry-log.ts): a manager
// certificate refused is no manager still starting (hostile review).
import { describe, expect, it } from 'vitest';
import { certificateRefused } from './registration.ts';

describe('a refused manager certificate', () => {
  it.each([
    ['14 UNAVAILABLE: No connection established. Last error: Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate\'s altnames: IP: 127.0.0.1 is not in the cert\'s list: 127.0.0.2', true],
    ['14 UNAVAILABLE: No connection established. Last error: Error: self-signed certificate in certificate chain', true],
    ['14 UNAVAILABLE: No connection established. Last error: Error: unable to verify the first certificate', true],
    ['14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:7471', false],
    ['cannot read the bootstrap token file /etc/metalfleet/token: ENOENT: no such file or directory', false],
  ])('%s: %s', (reason, urgent) => {
    expect(certificateRefused.test(reason)).toBe(urgent);
  });
});
