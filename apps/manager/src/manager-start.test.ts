// The manager started in-process as main.ts starts it: what it prints at start
// is what an operator sees, so it must not cry wolf with a leak warning.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCommandLine } from './config.ts';
import { startManager } from './manager.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'mf-manager-start-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('starting the manager', () => {
  it('starts without a MaxListenersExceededWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const config = parseCommandLine(['--data-dir', dataDir, '--listen-host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--mqtt-port', '0',
        '--boot-port', '0', '--tls', 'false', '--http-tls', 'false', '--init'], {}, '0.0.0-test');
      const manager = await startManager(config, pino({ level: 'silent' }), '0.0.0-test');
      try {
        await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
        expect(warnings.map((w) => `${w.name}: ${w.message}`).filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
      } finally {
        await manager.close();
      }
    } finally {
      process.off('warning', onWarning);
    }
  });
});
