// A token's id is what an operator passes to `metalfleet tokens revoke <id>`. Base64url ids began with '-'
// one time in 64, and the CLI took such an id for an unknown option (exit 2): a CI run failed on it.
import { describe, expect, it } from 'vitest';
import { parseApiToken, parseBootstrapToken } from '@metalfleet/domain';
import { openSqliteFleetStore } from '@metalfleet/store';
import { createApiTokens } from './api-tokens.ts';
import { createBootstrapTokens } from './bootstrap-tokens.ts';

const now = () => new Date('2026-11-28T02:00:00Z');

describe('token ids are safe as command-line arguments', () => {
  it('API and bootstrap token ids are hex, and a token made from one still parses', async () => {
    const store = openSqliteFleetStore({ path: ':memory:' });
    const api = createApiTokens({ store, now });
    const bootstrap = createBootstrapTokens({ store, now, caFingerprint: null });
    const ids: string[] = [];
    for (let i = 0; i < 64; i++) {
      const created = await api.create({ name: `t${i}`, role: 'viewer', tenantId: null, ttlSeconds: null });
      expect(parseApiToken(created.token)?.id).toBe(created.record.id);
      const boot = await bootstrap.create({ description: `b${i}`, ttlSeconds: 60, maxUses: 1 });
      expect(parseBootstrapToken(boot.token)?.id).toBe(boot.record.id);
      ids.push(created.record.id, boot.record.id);
    }
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{18}$/);
    await store.close();
  });
});
