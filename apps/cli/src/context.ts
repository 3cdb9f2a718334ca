// What every command needs: the API client for the chosen manager and token,
// and printing as a table for humans or JSON for scripts.
import type { Command } from 'commander';
import { createApiClient, type ApiClient } from './api-client.ts';
import { resolveSettings } from './cli-config.ts';
import { inertJson, inertText } from './terminal-text.ts';

/** Exit codes scripts can rely on. */
export const exitCodes = { ok: 0, apiError: 1, usage: 2, unreachable: 3, notAllowed: 4, operationFailed: 5, interrupted: 130 } as const;

/** A command line that cannot be carried out as typed (a bad flag value, an ambiguous name): exit 2, nothing sent. */
export class UsageError extends Error {}

export interface CliContext {
  client(): ApiClient;
  json(): boolean;
  print(value: unknown, human: () => string): void;
}

export function cliContext(program: Command): CliContext {
  const json = () => program.opts<{ json: boolean }>().json;
  return {
    client() {
      const { manager, token, ca } = resolveSettings(program.opts<{ manager?: string; token?: string; caFile?: string }>());
      return createApiClient(manager, token, ca);
    },
    json,
    // Node- and tenant-chosen text is in what is printed: never a control sequence for the terminal.
    print(value, human) {
      process.stdout.write(`${json() ? inertJson(value) : inertText(human())}\n`);
    },
  };
}

export const orDash = (value: string | null | undefined) => (value === null || value === undefined || value === '' ? '-' : value);
