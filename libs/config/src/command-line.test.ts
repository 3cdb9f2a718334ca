import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { Type } from 'typebox';
import { parseConfigFlags } from './command-line.ts';

const schema = Type.Object({
  httpPort: Type.Integer({ default: 7470, description: 'HTTP port.' }),
  logLevel: Type.String({ default: 'info', description: 'Log level.' }),
});

describe('parseConfigFlags', () => {
  it('makes a flag of every key, with its description and default in --help', () => {
    const program = new Command('x').exitOverride();
    let help = '';
    program.configureOutput({ writeOut: (s) => (help += s) });
    expect(() => parseConfigFlags(program, schema, ['--help'], {})).toThrow();
    expect(help).toMatch(/--http-port <value>\s+HTTP port\. \(default: 7470\)/);
    expect(help).toMatch(/--log-level <value>\s+Log level\. \(default: "info"\)/);
    expect(help).toContain('--config <file>');
  });

  it('lets a flag win over the environment, and leaves unset flags to it', () => {
    const config = parseConfigFlags(new Command('x'), schema, ['--http-port', '9000'], { METALFLEET_HTTP_PORT: '8000', METALFLEET_LOG_LEVEL: 'debug' });
    expect(config).toEqual({ httpPort: 9000, logLevel: 'debug' });
  });
});
