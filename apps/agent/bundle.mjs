// The agent as it ships: one ESM file for Node 24 (npm run bundle; deploy/image/build.sh).
// Usage: node bundle.mjs [OUTFILE | --outfile=OUTFILE] [--metafile=FILE]
// (default dist/metalfleet-agent.mjs; the metafile is esbuild's, for test/lint).
//
// The output is kept pure ASCII. esbuild escapes non-ASCII characters in strings
// but not in regular expressions (systeminformation has /[^°]/), and a single
// non-ASCII character makes Node hold the whole 1.8 MB source as UTF-16: 1.7 MiB
// more resident memory for the agent's whole life. A \uXXXX escape means the same
// character in a string, a regular expression, an identifier or a comment.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const flag = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const outfile = flag('outfile') ?? args.find((a) => !a.startsWith('--')) ?? `${here}dist/metalfleet-agent.mjs`;
const metafile = flag('metafile');

const result = await build({
  metafile: metafile !== undefined,
  entryPoints: [`${here}src/main.ts`], outfile, bundle: true, minify: true, platform: 'node', target: 'node24', format: 'esm',
  logLevel: 'warning', legalComments: 'none',
  banner: { js: "import { createRequire as mfRequire } from 'node:module'; const require = mfRequire(import.meta.url);" },
});

/** Every non-ASCII UTF-16 unit as a \uXXXX escape (pairs of them for characters beyond the BMP). */
export function asciiOnly(source) {
  return source.replace(/[\u0080-\uffff]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

writeFileSync(outfile, asciiOnly(readFileSync(outfile, 'utf8')));
if (metafile !== undefined) writeFileSync(metafile, JSON.stringify(result.metafile));
