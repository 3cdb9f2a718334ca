import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { ConfigError, envName, loadConfig } from './load-config.ts';

const schema = Type.Object({
  httpPort: Type.Integer({ minimum: 0, maximum: 65535, default: 7470 }),
  host: Type.String({ default: '127.0.0.1' }),
  tls: Type.Boolean({ default: true }),
});

const dir = mkdtempSync(join(tmpdir(), 'mf-config-'));

describe('loadConfig', () => {
  it('uses defaults when nothing is given, and freezes the result', () => {
    const config = loadConfig(schema, { flags: {}, env: {}, envPrefix: 'METALFLEET_' });
    expect(config).toEqual({ httpPort: 7470, host: '127.0.0.1', tls: true });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('layers file < env < flags and converts env strings', () => {
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'httpPort: 9000\nhost: 0.0.0.0\n');
    const config = loadConfig(schema, { file, env: { METALFLEET_HTTP_PORT: '9001', METALFLEET_TLS: 'false' }, envPrefix: 'METALFLEET_', flags: { httpPort: 9002 } });
    expect(config).toEqual({ httpPort: 9002, host: '0.0.0.0', tls: false });
  });

  it('names the bad option as it was given, in one line', () => {
    expect(() => loadConfig(schema, { flags: {}, env: { METALFLEET_HTTP_PORT: 'eighty' }, envPrefix: 'METALFLEET_' }))
      .toThrow(/^METALFLEET_HTTP_PORT: [^\n]+$/);
    expect(() => loadConfig(schema, { flags: { httpPort: 'eighty' }, env: {}, envPrefix: 'METALFLEET_' })).toThrow(/^--http-port: /);
    const file = join(dir, 'bad-port.yaml');
    writeFileSync(file, 'httpPort: 70000\n');
    expect(() => loadConfig(schema, { file, flags: {}, env: {}, envPrefix: 'METALFLEET_' })).toThrow(`httpPort (in ${file}): `);
  });

  it('parses structured values once, into the frozen config, and names the option when one is bad', () => {
    const withList = Type.Object({ ...schema.properties, peers: Type.String({ default: '' }) });
    const parsers = {
      peers: (text: string) => text.split(',').filter((p) => p !== '').map((p) => {
        if (!/^\w+$/.test(p)) throw new Error(`"${p}" is not a word`);
        return p;
      }),
    };
    const config = loadConfig(withList, { flags: { peers: 'a,b' }, env: {}, envPrefix: 'METALFLEET_' }, parsers);
    expect(config.peers).toEqual(['a', 'b']);
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => loadConfig(withList, { flags: { peers: 'a,b c' }, env: {}, envPrefix: 'METALFLEET_' }, parsers)).toThrow(/^--peers: "b c" is not a word$/);
    // Several problems: one line each.
    expect(() => loadConfig(withList, { flags: { peers: '!', httpPort: -1 }, env: {}, envPrefix: 'METALFLEET_' }, parsers))
      .toThrow(/^invalid configuration:\n {2}--http-port: .*\n {2}--peers: "!" is not a word$/);
  });

  it('refuses unknown keys in a file and a file that is not a mapping', () => {
    const typo = join(dir, 'typo.yaml');
    writeFileSync(typo, 'htpPort: 1\n');
    expect(() => loadConfig(schema, { file: typo, flags: {}, env: {}, envPrefix: 'METALFLEET_' })).toThrow(ConfigError);
    const list = join(dir, 'list.yaml');
    writeFileSync(list, '- 1\n');
    expect(() => loadConfig(schema, { file: list, flags: {}, env: {}, envPrefix: 'METALFLEET_' })).toThrow(/expected a mapping/);
    expect(() => loadConfig(schema, { file: join(dir, 'missing.yaml'), flags: {}, env: {}, envPrefix: 'METALFLEET_' })).toThrow(/ENOENT/);
  });

  it('derives variable names from keys', () => {
    expect(envName('METALFLEET_', 'grpcListenHost')).toBe('METALFLEET_GRPC_LISTEN_HOST');
  });
});
