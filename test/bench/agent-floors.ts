// What the agent's resident memory is made of, measured beside it in the same
// run: the same Node with the agent's options importing nothing, then the wire
// libraries the agent cannot do without (grpc-js, mqtt.js, protobuf-es), then
// those plus the workspace libraries named in each row. Every probe is an
// esbuild bundle built with the agent's bundle options (apps/agent/bundle.mjs)
// and sits idle while it is sampled, so a row minus the row above is
// what that import costs once loaded. The pre-split row is what the agent carried
// before the broker and the CA moved to libs/manager-transport; the last row is
// every library the agent bundles, loaded and idle: what is left between it and
// the agent is the agent's own code and state, its connections and its work.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
/** Everything else the agent bundles from npm, and the spool's SQLite. */
const others = ['systeminformation', 'typebox', 'yaml', 'pino', 'commander', 'fast-xml-parser', 'node:sqlite'];

export const floors: Floor[] = [
  { name: 'node, nothing imported', imports: [] },
  { name: '+ grpc-js, mqtt, protobuf', imports: wire },
  { name: '+ @metalfleet/transport', imports: [...wire, '@metalfleet/transport'] },
  { name: '+ manager-transport (pre-split)', imports: [...wire, '@metalfleet/transport', '@metalfleet/manager-transport'] },
  { name: '+ the agent\'s other libraries', imports: [...wire, '@metalfleet/transport', ...others] },
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
      // ASCII like the agent's bundle (apps/agent/bundle.mjs), or one character doubles the source held in memory.
      writeFileSync(outfile, readFileSync(outfile, 'utf8').replace(/[\u0080-\uffff]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`));
      procs.push(start(outfile, [], nodeOptions));
    }
    await Promise.all(procs.map((p) => p.waitForLog('loaded')));
    return { pids: Object.fromEntries(selected.map((floor, i) => [floor.name, procs[i]?.child.pid ?? 0])), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
