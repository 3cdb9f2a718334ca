// The manager's and the agent's logger: one JSON object a line for journald and
// log shippers; readable lines when a person watches (stdout is a terminal).
import { pino, type Logger, type LoggerOptions } from 'pino';

/** How a log line reads on a terminal: local time, level, message, then the fields (pid and host left out); colours unless NO_COLOR. */
const terminal = { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } as const;

export async function processLogger(options: LoggerOptions, stdout: { isTTY?: boolean } = process.stdout): Promise<Logger> {
  if (stdout.isTTY !== true) return pino(options);
  // Loaded only for a terminal: a node's agent under systemd never pays for it.
  const { default: pretty } = await import('pino-pretty');
  // Synchronous, as pino's own default: nothing logged just before an exit is lost.
  return pino(options, pretty({ ...terminal, sync: true }));
}

/** A JSON log line of a child process as it would read on a terminal (the demo's view of its processes). */
export async function terminalLine(): Promise<(line: string) => string> {
  const { prettyFactory } = await import('pino-pretty');
  const format = prettyFactory(terminal);
  return (line) => format(line).trimEnd();
}
