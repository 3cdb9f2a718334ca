// The logger as the manager and the agent make it, in a real process: JSON
// lines when stdout is a pipe, readable lines when it is a terminal (a
// pseudo-terminal from util-linux `script`).
import { execFileSync } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';

const logSomething = `import(${JSON.stringify(new URL('./process-logger.ts', import.meta.url).href)})`
  + `.then(async (m) => (await m.processLogger({ name: 'metalfleet-test', level: 'info' })).warn({ nodeId: 'n1' }, 'broker unreachable'))`;

describe('the process logger', () => {
  it('writes one JSON object a line when stdout is not a terminal', () => {
    const out = execFileSync(process.execPath, ['-e', logSomething], { encoding: 'utf8' });
    expect(JSON.parse(out.trim())).toMatchObject({ level: 40, name: 'metalfleet-test', nodeId: 'n1', msg: 'broker unreachable' });
  });

  it('writes readable lines on a terminal: time, level, message, fields', () => {
    const command = [process.execPath, '-e', logSomething].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    const out = stripVTControlCharacters(execFileSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' })).replaceAll('\r', '');
    expect(out).toMatch(/^\[\d\d:\d\d:\d\d\] WARN \(metalfleet-test\): broker unreachable\n\s+nodeId: "n1"\n$/);
  });
});
