// The architecture's boundaries are lint errors, not good intentions: these
// lint made-up files at real paths with the repository's own ESLint config.
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import { createProjectGraphAsync } from '@nx/devkit';

const root = fileURLToPath(new URL('../../', import.meta.url));
let eslint: ESLint;

beforeAll(async () => {
  process.chdir(root);
  await createProjectGraphAsync({ exitOnError: false }); // the Nx boundary rule reads the cached graph
  eslint = new ESLint({ cwd: root });
}, 120_000);

async function errorsFor(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${path}` });
  return (result?.messages ?? []).filter((m) => m.severity === 2).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('module boundaries', () => {
  it('rejects node:fs in libs/domain', async () => {
    const errors = await errorsFor('libs/domain/src/probe.ts', "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n");
    expect(errors).toEqual([expect.stringMatching(/^no-restricted-imports: 'node:fs'/)]);
  });

  it('rejects a bare built-in (fs) and the clock in libs/domain', async () => {
    expect(await errorsFor('libs/domain/src/probe.ts', "import fs from 'fs';\nexport const f = fs;\n")).not.toEqual([]);
    expect(await errorsFor('libs/domain/src/probe.ts', 'export const t = Date.now();\n')).toEqual([expect.stringContaining('no-restricted-syntax')]);
  });

  it('rejects libs/domain importing an I/O library', async () => {
    const errors = await errorsFor('libs/domain/src/probe.ts', "import { openSqliteFleetStore } from '@metalfleet/store';\nexport const s = openSqliteFleetStore;\n");
    expect(errors).toEqual([expect.stringContaining('@nx/enforce-module-boundaries')]);
  });

  it('keeps the agent and the manager apart', async () => {
    const agentToManager = await errorsFor('apps/agent/src/probe.ts', "import { openSqliteFleetStore } from '@metalfleet/store';\nexport const s = openSqliteFleetStore;\n");
    expect(agentToManager).toEqual([expect.stringContaining('@nx/enforce-module-boundaries')]);
    const managerToAgent = await errorsFor('apps/manager/src/probe.ts', "import { runAgent } from '@metalfleet/agent-runtime';\nexport const r = runAgent;\n");
    expect(managerToAgent).toEqual([expect.stringContaining('@nx/enforce-module-boundaries')]);
  });

  it('accepts what the layering allows', async () => {
    expect(await errorsFor('libs/domain/src/probe.ts', "import { matchIdentity } from './node-identity.ts';\nexport const m = matchIdentity;\n")).toEqual([]);
    expect(await errorsFor('apps/manager/src/probe.ts', "import { openSqliteFleetStore } from '@metalfleet/store';\nexport const s = openSqliteFleetStore;\n")).toEqual([]);
  });
});
