// Starting the real manager and agent binaries as separate processes, the way
// an operator does, and reading what they print.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const managerBin = `${root}apps/manager/bin/metalfleet-manager.js`;
export const agentBin = `${root}apps/agent/bin/metalfleet-agent.js`;
export const cliBin = `${root}apps/cli/bin/metalfleet.js`;

export interface Proc {
  child: ChildProcess;
  /** Every line printed so far (stdout and stderr). */
  lines: string[];
  /** Resolves with the first JSON log line whose msg matches. */
  waitForLog(msg: string | RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Calls `act` in the same turn as the first line from index `from` on that `match` accepts (to act at that instant); resolves with the line. */
  onLine(from: number, match: (entry: Record<string, unknown>) => boolean, act: () => void): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code once it has exited (null: killed by a signal). */
  exited: Promise<number | null>;
}

/** `env`: added to this process's environment for the child; `cwd`: where it runs (default: here). */
export function start(bin: string, args: string[], nodeOptions: string[] = [], env: Record<string, string> = {}, options: { cwd?: string } = {}): Proc {
  const child = spawn(process.execPath, [...nodeOptions, bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, ...options });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  const parse = (line: string): Record<string, unknown> | null => {
    if (!line.startsWith('{')) return null;
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      return null;
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      for (const w of waiters) w();
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  return {
    child,
    lines,
    exited,
    waitForLog(msg, timeoutMs = 30_000) {
      const find = () => {
        for (const line of lines) {
          if (!line.startsWith('{')) continue;
          const entry = JSON.parse(line) as Record<string, unknown>;
          const text = String(entry['msg'] ?? '');
          if (typeof msg === 'string' ? text === msg : msg.test(text)) return entry;
        }
        return null;
      };
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no log "${msg}" within ${timeoutMs} ms; output:\n${lines.join('\n')}`)), timeoutMs);
        const check = () => {
          const hit = find();
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
          }
        };
        waiters.push(check);
        check();
        void exited.then(() => {
          if (!find()) {
            clearTimeout(timer);
            reject(new Error(`process exited before "${msg}"; output:\n${lines.join('\n')}`));
          }
        });
      });
    },
    onLine(from, match, act) {
      return new Promise((resolve, reject) => {
        let next = from;
        let done = false;
        const check = () => {
          for (; !done && next < lines.length; next += 1) {
            const entry = parse(lines[next] ?? '');
            if (entry && match(entry)) {
              done = true;
              act();
              resolve(entry);
            }
          }
        };
        waiters.push(check);
        check();
        void exited.then(() => {
          check();
          if (!done) reject(new Error(`process exited before the line looked for; output:\n${lines.slice(from).join('\n')}`));
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!accept(last)) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
    last = await probe();
  }
  return last;
}
