// The agent as it ships: one ESM file for Node 24 (npm run bundle; deploy/image/build.sh).
// Usage: node bundle.mjs [outfile]   (default dist/metalfleet-agent.mjs)
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
const outfile = process.argv[2] ?? `${here}dist/metalfleet-agent.mjs`;

await build({
  entryPoints: [`${here}src/main.ts`], outfile, bundle: true, minify: true, platform: 'node', target: 'node24', format: 'esm',
  logLevel: 'warning', legalComments: 'none',
  banner: { js: "import { createRequire as mfRequire } from 'node:module'; const require = mfRequire(import.meta.url);" },
});

/** Every non-ASCII UTF-16 unit as a \uXXXX escape (pairs of them for characters beyond the BMP). */
export function asciiOnly(source) {
  return source.replace(/[\u0080-\uffff]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

writeFileSync(outfile, asciiOnly(readFileSync(outfile, 'utf8')));
