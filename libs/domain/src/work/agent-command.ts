// The commands the manager sends an agent, one argument type per kind. The
// manager checks a command before it stores it and again when it reads it back
// (the store keeps the arguments as JSON); the agent checks the protobuf message
// it receives. Nothing is coerced: a command that does not fit is refused with
// the reason.
import type { NodeState } from '../node.ts';

export const commandKinds = ['reimage', 'reboot', 'reset-gpu', 'accept'] as const;
export type CommandKind = (typeof commandKinds)[number];

export type ReimageArgs = {
  imageName: string;
  imageVersion: string;
  /** sha256 of the root image the catalog names (64 hex digits). */
  sha256: string;
  /** The node's iPXE script on the boot endpoint; empty when the BMC power-cycles the node. */
  bootScriptUrl: string;
  /** The manager power-cycles the node through its BMC once the command is acked: the agent only flushes its disks. */
  powerCycledByBmc: boolean;
};
export type RebootArgs = {
  /** Always false: a reboot into the network boot is a reimage (the agent refuses true, which it cannot honour). */
  pxeNext: boolean;
};
export type ResetGpuArgs = { gpuIndex: number };
/**
 * Acceptance testing: the NVLinks read, `dcgmi diag -r dcgmLevel` (0: none), NCCL all_reduce_perf when `nccl`,
 * nvbandwidth when `nvbandwidth`, gpu_burn for `stressSeconds` (0: none).
 */
export type AcceptArgs = { dcgmLevel: number; nccl: boolean; nvbandwidth: boolean; stressSeconds: number };

/** The longest stress an accept command may ask for: a day. */
export const maxStressSeconds = 86_400;

export type AgentCommand =
  | { kind: 'reimage'; args: ReimageArgs }
  | { kind: 'reboot'; args: RebootArgs }
  | { kind: 'reset-gpu'; args: ResetGpuArgs }
  | { kind: 'accept'; args: AcceptArgs };
export type CommandArgs<K extends CommandKind> = Extract<AgentCommand, { kind: K }>['args'];

/**
 * What the agent does with a command it had started when it crashed (or was
 * killed) — docs/agent-commands.md has the reasoning:
 * - `run-again`: every step can be done twice with the same effect (setting the
 *   next boot, flushing disks, writing and checking an image); the command is
 *   recorded as started, run, and recorded as done; after a restart a started
 *   command that is not done runs again.
 * - `not-repeated`: a power action or a reset, whose second run would hit the
 *   machine (or the jobs on it) again. Recorded before it runs and never run a
 *   second time; after a restart the agent reports what it can tell: a reboot
 *   followed by a new boot is done, anything else is reported as not known to
 *   have happened (failed, with that reason), for a person or the manager to decide.
 */
export type CrashRecovery = 'run-again' | 'not-repeated';
export const crashRecovery: Readonly<Record<CommandKind, CrashRecovery>> = {
  reimage: 'run-again',
  reboot: 'not-repeated',
  'reset-gpu': 'not-repeated',
  // Not run again by the agent itself: the node may have left acceptance meanwhile (a tenant's GPUs by then); reported
  // failed, the manager decides (the node goes to repair, and the failure proves nothing against the board).
  accept: 'not-repeated',
};

/**
 * The node states in which a command of a kind may still start (the agent claims each command before it runs it): an
 * acceptance suite loads every GPU and link for minutes, so it runs only on a node being accepted, never on one that
 * moved on (to a tenant, to repair) while the suite waited in its session. Kinds not listed start in any state.
 */
const startsOnlyIn: Partial<Record<CommandKind, readonly NodeState[]>> = { accept: ['accepting'] };

/** Why a command of `kind` may not start on a node in `state`; null when it may. */
export function refusedInState(kind: CommandKind, state: NodeState): string | null {
  const states = startsOnlyIn[kind];
  if (!states || states.includes(state)) return null;
  return `the node is ${state} now, and an ${kind} command runs only while it is ${states.join(' or ')}`;
}

/**
 * Whether a newer command makes an older one for the same node, not yet acknowledged, pointless: the
 * older is then withdrawn (docs/agent-commands.md). A reimage or a reboot replaces one of its kind; a
 * GPU reset replaces only a reset of the same GPU.
 */
export function supersedes(newer: AgentCommand, older: AgentCommand): boolean {
  if (newer.kind === 'reset-gpu' && older.kind === 'reset-gpu') return newer.args.gpuIndex === older.args.gpuIndex;
  return newer.kind === older.kind;
}

/** Largest GPU index a node may name (nvidia-smi numbers the GPUs of one host from 0). */
export const maxGpuIndex = 63;

export type CommandCheck = { ok: true; command: AgentCommand } | { ok: false; error: string };

const sha256Pattern = /^[0-9a-fA-F]{64}$/;
const urlPattern = /^https?:\/\/[^\s/]+\S*$/;
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Checks a command kind and its arguments (decoded JSON or a mapped protobuf
 * message). A missing boolean is false, as in protobuf; every other field must
 * be there with the right type, and nothing else may be.
 */
export function checkAgentCommand(kind: string, args: unknown): CommandCheck {
  const fail = (error: string): CommandCheck => ({ ok: false, error: `${kind} command: ${error}` });
  if (!(commandKinds as readonly string[]).includes(kind)) return { ok: false, error: `unknown command kind "${kind}" (known: ${commandKinds.join(', ')})` };
  if (!isRecord(args)) return fail('arguments must be an object');
  const allowed: Record<CommandKind, readonly string[]> = {
    reimage: ['imageName', 'imageVersion', 'sha256', 'bootScriptUrl', 'powerCycledByBmc'], reboot: ['pxeNext'], 'reset-gpu': ['gpuIndex'], accept: ['dcgmLevel', 'nccl', 'nvbandwidth', 'stressSeconds'],
  };
  const known = allowed[kind as CommandKind];
  const extra = Object.keys(args).filter((key) => !known.includes(key));
  if (extra.length > 0) return fail(`unexpected argument ${extra.map((k) => `"${k}"`).join(', ')}`);
  const text = (key: string): string | null => (typeof args[key] === 'string' && args[key] !== '' ? args[key] : null);
  const flag = (key: string): boolean | null => (args[key] === undefined ? false : typeof args[key] === 'boolean' ? args[key] : null);
  switch (kind as CommandKind) {
    case 'reimage': {
      const imageName = text('imageName');
      const imageVersion = text('imageVersion');
      const sha256 = text('sha256');
      const powerCycledByBmc = flag('powerCycledByBmc');
      const bootScriptUrl = args['bootScriptUrl'] ?? '';
      if (imageName === null || imageVersion === null) return fail('imageName and imageVersion must be non-empty strings');
      if (sha256 === null || !sha256Pattern.test(sha256)) return fail('sha256 must be 64 hex digits');
      if (powerCycledByBmc === null) return fail('powerCycledByBmc must be a boolean');
      if (typeof bootScriptUrl !== 'string') return fail('bootScriptUrl must be a string');
      // Without a BMC the agent reboots into the network boot itself and (simulated firmware) needs the script's address.
      if (!powerCycledByBmc && !urlPattern.test(bootScriptUrl)) return fail('bootScriptUrl must be an http(s) URL when the agent reboots the node itself');
      return { ok: true, command: { kind: 'reimage', args: { imageName, imageVersion, sha256, bootScriptUrl, powerCycledByBmc } } };
    }
    case 'reboot': {
      const pxeNext = flag('pxeNext');
      if (pxeNext === null) return fail('pxeNext must be a boolean');
      if (pxeNext) return fail('pxeNext is not supported: a reboot into the network boot is a reimage command');
      return { ok: true, command: { kind: 'reboot', args: { pxeNext } } };
    }
    case 'reset-gpu': {
      const gpuIndex = args['gpuIndex'];
      if (typeof gpuIndex !== 'number' || !Number.isInteger(gpuIndex) || gpuIndex < 0 || gpuIndex > maxGpuIndex) {
        return fail(`gpuIndex must be an integer from 0 to ${maxGpuIndex}`);
      }
      return { ok: true, command: { kind: 'reset-gpu', args: { gpuIndex } } };
    }
    case 'accept': {
      const dcgmLevel = args['dcgmLevel'] ?? 0;
      const nccl = flag('nccl');
      const nvbandwidth = flag('nvbandwidth');
      if (typeof dcgmLevel !== 'number' || !Number.isInteger(dcgmLevel) || dcgmLevel < 0 || dcgmLevel > 3) return fail('dcgmLevel must be 0 (none), 1, 2 or 3');
      if (nccl === null || nvbandwidth === null) return fail('nccl and nvbandwidth must be booleans');
      // Missing in a command stored before the stress existed: none.
      const stressSeconds = args['stressSeconds'] ?? 0;
      if (typeof stressSeconds !== 'number' || !Number.isInteger(stressSeconds) || stressSeconds < 0 || stressSeconds > maxStressSeconds) {
        return fail(`stressSeconds must be an integer from 0 (none) to ${maxStressSeconds}`);
      }
      return { ok: true, command: { kind: 'accept', args: { dcgmLevel, nccl, nvbandwidth, stressSeconds } } };
    }
  }
}
