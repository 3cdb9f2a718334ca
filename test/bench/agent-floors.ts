// What the agent's resident memory is made of, measured beside it in the same
// run: the same Node with the agent's options importing nothing, then the wire
// libraries the agent cannot do without (grpc-js, mqtt.js, protobuf-es), then
// those plus the workspace libraries named in each row. Every probe is an
// esbuild bundle built with the agent's bundle options (apps/agent/package.json
// "bundle") and sits idle while it is sampled, so a row minus the row above is
// what that import costs once loaded. The last row is what the agent carried
// before the broker and the CA moved to libs/manager-transport.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { start } from '../support/processes.ts';

export interface Floor {
  name: string;
  /** Module specifiers the probe imports whole (`import * as`), kept alive so nothing is shaken off. */
  imports: string[];
}

const root = fileURLToPath(new URL('../../', import.meta.url));
const wire = ['@grpc/grpc-js', 'mqtt', '@bufbuild/protobuf'];

export const floors: Floor[] = [
  { name: 'node, nothing imported', imports: [] },
  { name: '+ grpc-js, mqtt, protobuf', imports: wire },
  { name: '+ @metalfleet/transport', imports: [...wire, '@metalfleet/transport'] },
  { name: '+ manager-transport (pre-split)', imports: [...wire, '@metalfleet/transport', '@metalfleet/manager-transport'] },
];

function probeSource(imports: string[]): string {
  const lines = imports.map((spec, i) => `import * as m${i} from '${spec}';`);
  lines.push(`globalThis.keep = [${imports.map((_, i) => `m${i}`).join(', ')}];`);
  lines.push("console.log(JSON.stringify({ msg: 'loaded' }));");
  lines.push('setInterval(() => {}, 60_000);');
  return lines.join('\n');
}

export interface RunningFloors {
  /** Floor name → pid, for proc-stats' measure(). */
  pids: Record<string, number>;
  stop(): Promise<void>;
}

/** Bundles each floor like the agent, starts it with the agent's Node options and waits until its imports are loaded. */
export async function startFloors(nodeOptions: string[], selected: Floor[] = floors): Promise<RunningFloors> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-floors-'));
  const procs: Array<ReturnType<typeof start>> = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const [i, floor] of selected.entries()) {
      const entry = join(dir, `floor-${i}.ts`);
      const outfile = join(dir, `floor-${i}.mjs`);
      writeFileSync(entry, probeSource(floor.imports));
      await build({
        entryPoints: [entry], absWorkingDir: root, nodePaths: [join(root, 'node_modules')],
        bundle: true, minify: true, platform: 'node', target: 'node24', format: 'esm', outfile, logLevel: 'warning',
        banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
      });
      procs.push(start(outfile, [], nodeOptions));
    }
    await Promise.all(procs.map((p) => p.waitForLog('loaded')));
    return { pids: Object.fromEntries(selected.map((floor, i) => [floor.name, procs[i]?.child.pid ?? 0])), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
