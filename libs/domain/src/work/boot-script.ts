// The network boot: the iPXE script the manager's boot endpoint serves a node,
// and the metalfleet.* words on the kernel command line that tell the agent in
// the booted image where the manager is, which token to register with, and
// which reimage command this boot completes.
import { imageLabel, parseImageRef, type Image, type ImageRef } from './catalog.ts';

export interface BootParameters {
  /** gRPC address of the manager, host:port. */
  manager?: string;
  token?: string;
  /** The reimage command this boot is the result of. */
  commandId?: string;
  image?: ImageRef;
  rootUrl?: string;
  sha256?: string;
  /** The disk an install image writes to (e.g. /dev/nvme0n1); unset: the agent picks the first fixed disk. */
  disk?: string;
  /** Seconds the install may take (the manager's deadline for it): how long an interrupted download is retried. */
  installWindowS?: number;
}

const keys: Record<string, keyof BootParameters> = {
  'metalfleet.manager': 'manager', 'metalfleet.token': 'token', 'metalfleet.command': 'commandId', 'metalfleet.image': 'image', 'metalfleet.root': 'rootUrl', 'metalfleet.sha256': 'sha256',
  'metalfleet.disk': 'disk', 'metalfleet.window': 'installWindowS',
};

/** Reads the metalfleet.* words of a kernel command line; everything else is ignored. */
export function parseBootParameters(cmdline: string): BootParameters {
  const params: BootParameters = {};
  for (const word of cmdline.trim().split(/\s+/)) {
    const eq = word.indexOf('=');
    if (eq <= 0) continue;
    const key = keys[word.slice(0, eq)];
    const value = word.slice(eq + 1);
    if (!key || value === '') continue;
    if (key === 'image') {
      const ref = parseImageRef(value);
      if (ref) params.image = ref;
    } else if (key === 'installWindowS') {
      if (/^\d{1,9}$/.test(value)) params.installWindowS = Number(value);
    } else {
      params[key] = value;
    }
  }
  return params;
}

/** Kernel command line words are split on spaces: a value with whitespace would break the line. */
function word(key: string, value: string): string {
  if (/\s/.test(value)) throw new Error(`${key} must not contain whitespace`);
  return `${key}=${value}`;
}

export function bootCmdline(image: Image, params: Required<Pick<BootParameters, 'manager' | 'token'>> & Pick<BootParameters, 'commandId' | 'installWindowS'>): string {
  return [
    image.cmdline.trim(),
    word('metalfleet.manager', params.manager),
    word('metalfleet.token', params.token),
    word('metalfleet.image', imageLabel(image)),
    ...(image.rootUrl !== '' ? [word('metalfleet.root', image.rootUrl), word('metalfleet.sha256', image.sha256)] : []),
    ...(params.commandId ? [word('metalfleet.command', params.commandId)] : []),
    ...(params.installWindowS !== undefined ? [word('metalfleet.window', String(Math.max(0, Math.floor(params.installWindowS))))] : []),
  ].filter((w) => w !== '').join(' ');
}

export function ipxeScript(image: Image, cmdline: string): string {
  return ['#!ipxe', `kernel ${image.kernelUrl} initrd=initrd.img ${cmdline}`, `initrd --name initrd.img ${image.initrdUrl}`, 'boot', ''].join('\n');
}

/**
 * What a PXE client that did not say which machine it is gets: a script that
 * asks again with the MAC of the NIC it booted from (iPXE fills in netX).
 */
export function ipxeChainWithMac(bootUrl: string): string {
  return ['#!ipxe', `chain ${bootUrl}?mac=\${netX/mac}`, ''].join('\n');
}

/** The script for a machine that must ask again later: waits, then chains back with its MAC. */
export function ipxeRetry(why: string, bootUrl: string, seconds: number): string {
  return ['#!ipxe', `echo metalfleet: ${why.replace(/[\r\n]/g, ' ')}; asking again in ${seconds} s`, `sleep ${seconds}`, `chain ${bootUrl}?mac=\${netX/mac}`, ''].join('\n');
}

/** The script for a node with nothing to boot from the network: continue with the local disk. */
export function ipxeLocalBoot(why: string): string {
  return ['#!ipxe', `echo metalfleet: ${why.replace(/[\r\n]/g, ' ')}; booting from the local disk`, 'exit', ''].join('\n');
}

/** The kernel command line an iPXE script boots with (what firmware would pass on); null when it boots nothing. */
export function kernelCmdlineOf(script: string): string | null {
  const kernel = script.split('\n').map((l) => l.trim()).find((l) => l.startsWith('kernel '));
  if (!kernel) return null;
  return kernel.split(/\s+/).slice(2).join(' ');
}
