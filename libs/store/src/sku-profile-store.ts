// SKU profiles an operator made through the API (the file's and the defaults
// are not stored: the file is read at start). Part of FleetStore; one SQL
// implementation serves SQLite and PostgreSQL, so every replica judges by the same.
import type { SkuProfile } from '@metalfleet/domain';
import type { SqlExecutor } from './sql-executor.ts';

export interface SkuProfileStore {
  /** By name. */
  listSkuProfiles(): Promise<SkuProfile[]>;
  /** Made or replaced (by its name). */
  putSkuProfile(profile: SkuProfile, at: Date): Promise<void>;
  /** False when there was none of that name. */
  deleteSkuProfile(name: string): Promise<boolean>;
}

export function sqlSkuProfileStore(db: SqlExecutor): SkuProfileStore {
  return {
    async listSkuProfiles() {
      return (await db.all<{ profile: string }>('SELECT profile FROM sku_profiles ORDER BY name')).map((r) => JSON.parse(r.profile) as SkuProfile);
    },
    async putSkuProfile(profile, at) {
      await db.run('INSERT INTO sku_profiles (name, profile, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET profile = excluded.profile, updated_at = excluded.updated_at',
        [profile.name, JSON.stringify(profile), at.getTime()]);
    },
    async deleteSkuProfile(name) {
      return (await db.run('DELETE FROM sku_profiles WHERE name = ?', [name])) > 0;
    },
  };
}
