// The agent ships as one esbuild bundle (apps/agent "bundle") and all of it is
// loaded on every node, so what only the manager runs must not be in it: the
// MQTT broker (aedes and its mqemitter), the certificate authority
// (@peculiar/x509, tsyringe, reflect-metadata), or any scope:manager library.
// This builds the bundle the way it ships, with a metafile, and reads which
// files put code into it. The lint rule (eslint.config.mjs) stops the import;
// this catches what reaches the bundle some other way.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const agentDir = join(root, 'apps', 'agent');
const managerOnlyPackages = ['aedes', 'aedes-persistence', 'mqemitter', 'tsyringe', 'reflect-metadata', '@peculiar/x509'];

interface Metafile {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

/** Workspace folders (relative to the root, with a trailing slash) of the projects tagged scope:manager. */
function managerProjects(): string[] {
  const dirs = ['apps', 'libs'].flatMap((parent) => readdirSync(join(root, parent)).map((name) => `${parent}/${name}/`));
  return dirs.filter((dir) => {
    try {
      const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as { nx?: { tags?: string[] } };
      return pkg.nx?.tags?.includes('scope:manager') ?? false;
    } catch {
      return false;
    }
  });
}

const dir = mkdtempSync(join(tmpdir(), 'mf-agent-bundle-'));
/** Files that put code into the bundle, relative to the repository root. */
let shipped: string[] = [];

beforeAll(() => {
  const metafile = join(dir, 'meta.json');
  execFileSync('npm', ['run', 'bundle', '--silent', '--', `--outfile=${join(dir, 'metalfleet-agent.mjs')}`, `--metafile=${metafile}`], { cwd: agentDir, stdio: 'inherit' });
  const meta = JSON.parse(readFileSync(metafile, 'utf8')) as Metafile;
  shipped = Object.values(meta.outputs)
    .flatMap((output) => Object.entries(output.inputs).filter(([, input]) => input.bytesInOutput > 0).map(([file]) => file))
    .map((file) => relative(root, resolve(agentDir, file)));
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The npm package a bundled file belongs to (the innermost node_modules), or null for workspace code. */
function packageOf(file: string): string | null {
  const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*\/node_modules\/)/.exec(file);
  return match?.[1] ?? null;
}

describe('the agent bundle', () => {
  it('is read: it carries the agent, the shared transport and the wire libraries', () => {
    expect(shipped).toContain('apps/agent/src/main.ts');
    expect(shipped.some((f) => f.startsWith('libs/transport/'))).toBe(true);
    const packages = new Set(shipped.map(packageOf));
    expect([...packages]).toEqual(expect.arrayContaining(['@grpc/grpc-js', 'mqtt', '@bufbuild/protobuf']));
  });

  it('carries none of the manager\'s broker and CA packages', () => {
    const packages = [...new Set(shipped.map(packageOf))];
    expect(packages.filter((p) => p !== null && managerOnlyPackages.includes(p))).toEqual([]);
  });

  it('carries no code of a scope:manager project', () => {
    const projects = managerProjects();
    expect(projects).toContain('libs/manager-transport/');
    expect(shipped.filter((f) => projects.some((p) => f.startsWith(p)))).toEqual([]);
  });
});
