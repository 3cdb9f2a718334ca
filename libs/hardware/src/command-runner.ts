// Every external command runs through here, always with a timeout: nvidia-smi
// hangs on some GPU faults, and a hang is a health signal, not a stuck agent.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export class CommandError extends Error {
  readonly kind: 'missing' | 'timeout' | 'failed';
  readonly stderr: string;

  constructor(kind: 'missing' | 'timeout' | 'failed', message: string, stderr = '') {
    super(message);
    this.name = 'CommandError';
    this.kind = kind;
    this.stderr = stderr;
  }
}

export interface RunOptions {
  timeoutMs?: number;
  /** Exit codes that still mean "output is valid" (smartctl reports findings in its exit code). */
  acceptExitCode?: (code: number) => boolean;
}

export type RunCommand = (command: string, args: readonly string[], options?: RunOptions) => Promise<string>;

/** Runs a command without a shell; resolves with stdout, rejects with a CommandError. */
export const runCommand: RunCommand = (command, args, options = {}) => {
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    execFile(command, [...args], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const e = error as Omit<NodeJS.ErrnoException, 'code'> & { code?: string | number; killed?: boolean; signal?: string | null };

      if (e.code === 'ENOENT') return reject(new CommandError('missing', `${command} is not installed`));
      if (typeof e.code === 'number' && options.acceptExitCode?.(e.code)) return resolve(stdout);
      if (e.killed || e.signal === 'SIGKILL') return reject(new CommandError('timeout', `${command} ${args.join(' ')} did not finish within ${timeoutMs} ms`));
      const detail = (stderr || stdout || e.message).trim().split('\n').slice(0, 3).join(' ');
      reject(new CommandError('failed', `${command} ${args.join(' ')} failed: ${detail}`, stderr));
    });
  });
};

// Looks where execFile itself would look: the process's PATH.
/** True when the command is on PATH (a probe, before running anything). */
export function commandExists(command: string, path = process.env['PATH'] ?? ''): boolean {
  return path.split(':').some((dir) => dir !== '' && existsSync(`${dir}/${command}`));
}
