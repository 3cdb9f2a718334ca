// A wall clock a test can step under a running process: libfaketime (Debian
// `faketime`) preloaded into it, reading its offset from a file. The monotonic
// clock is left alone (FAKETIME_DONT_FAKE_MONOTONIC), as NTP or `date -s`
// would leave it; Node 24 runs under it (timers, TLS, SQLite and all).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptInstall } from './apt.ts';

const library = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

export interface SteppableClock {
  /** The environment that puts a process on this clock. */
  env: Record<string, string>;
  /** Sets the offset from the real wall clock ("+1h", "-30m", "+0"); the process sees it within about a second. */
  set(offset: string): void;
  remove(): void;
}

export function steppableClock(): SteppableClock {
  if (!existsSync(library)) aptInstall(['faketime'], { recommends: false });
  const dir = mkdtempSync(join(tmpdir(), 'mf-faketime-'));
  const file = join(dir, 'offset');
  writeFileSync(file, '+0\n');
  return {
    // The file is read again at most once a second (FAKETIME_NO_CACHE would read it at every clock read).
    env: { LD_PRELOAD: library, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_CACHE_DURATION: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' },
    set: (offset) => writeFileSync(file, `${offset}\n`),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
