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

  it('keeps the manager\'s broker and CA out of agent and shared code', async () => {
    const boundary = [expect.stringContaining('@nx/enforce-module-boundaries')];
    const broker = "import { createNodeBroker } from '@metalfleet/manager-transport';\nexport const b = createNodeBroker;\n";
    expect(await errorsFor('libs/agent-runtime/src/probe.ts', broker)).toEqual(boundary);
    expect(await errorsFor('libs/transport/src/probe.ts', broker)).toEqual(boundary);
    expect(await errorsFor('libs/transport/src/probe.ts', "import { Aedes } from 'aedes';\nexport const a = Aedes;\n")).toEqual(boundary);
    expect(await errorsFor('libs/agent-runtime/src/probe.ts', "import * as x509 from '@peculiar/x509';\nexport const x = x509;\n")).toEqual(boundary);
    expect(await errorsFor('libs/transport/src/probe.ts', "import 'reflect-metadata';\n")).toEqual(boundary);
    expect(await errorsFor('apps/manager/src/probe.ts', broker)).toEqual([]);
  });

  it('keeps protobuf in libs/fleet\'s wire adapters', async () => {
    const proto = "import { CommandSchema } from '@metalfleet/proto';\nexport const c = CommandSchema;\n";
    const restricted = [expect.stringMatching(/^no-restricted-imports: .*stay in libs\/fleet\/src\/wire/)];
    expect(await errorsFor('libs/fleet/src/controllers/probe.ts', proto)).toEqual(restricted);
    expect(await errorsFor('libs/fleet/src/services/probe.ts', "import { create } from '@bufbuild/protobuf';\nexport const c = create;\n")).toEqual(restricted);
    expect(await errorsFor('libs/fleet/src/wire/probe.ts', proto)).toEqual([]);
  });

  it('accepts what the layering allows', async () => {
    expect(await errorsFor('libs/domain/src/probe.ts', "import { matchIdentity } from './node-identity.ts';\nexport const m = matchIdentity;\n")).toEqual([]);
    expect(await errorsFor('apps/manager/src/probe.ts', "import { openSqliteFleetStore } from '@metalfleet/store';\nexport const s = openSqliteFleetStore;\n")).toEqual([]);
  });
});
