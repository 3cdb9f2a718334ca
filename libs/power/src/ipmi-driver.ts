// IPMI over LAN through ipmitool (`-I lanplus`). The password travels in the
// environment (-E), never on a command line other users can read in ps.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DomainError } from '@metalfleet/domain';
import type { BmcDriver, PowerState } from './bmc-driver.ts';

const run = promisify(execFile);

export interface IpmiOptions {
  host: string;
  port: number;
  username: string;
  password: string;
  /**
   * The lanplus cipher suite. Left to ipmitool, it probes suites first and
   * loses ~10 s on BMCs that refuse 17; 3 (SHA1/AES) is what most BMCs speak.
   */
  cipherSuite: number;
  timeoutMs?: number;
  /** The ipmitool binary (tests may point at another). */
  ipmitool?: string;
}

/** `Chassis Power is on` → 'on'. */
export function parsePowerStatus(output: string): PowerState | null {
  const state = /Chassis Power is (on|off)/i.exec(output)?.[1]?.toLowerCase();
  return state === 'on' || state === 'off' ? state : null;
}

export class IpmiDriver implements BmcDriver {
  readonly kind = 'ipmi';
  private readonly options: IpmiOptions;

  constructor(options: IpmiOptions) {
    this.options = options;
  }

  private async ipmitool(...command: string[]): Promise<string> {
    const { host, port, username, password, cipherSuite } = this.options;
    const args = ['-I', 'lanplus', '-C', String(cipherSuite), '-H', host, '-p', String(port), '-U', username, '-E', '-N', '2', '-R', '2', ...command];
    try {
      const { stdout } = await run(this.options.ipmitool ?? 'ipmitool', args, {
        timeout: this.options.timeoutMs ?? 20_000, env: { ...process.env, IPMI_PASSWORD: password },
      });
      return stdout;
    } catch (error) {
      const failure = error as NodeJS.ErrnoException & { stderr?: string; killed?: boolean };
      if (failure.code === 'ENOENT') throw new DomainError('unavailable', 'ipmitool is not installed on the manager (apt-get install ipmitool)');
      const why = failure.killed ? 'timed out' : (failure.stderr ?? '').trim().split('\n').slice(-1)[0] || failure.message;
      throw new DomainError('unavailable', `IPMI ${command.join(' ')} on ${host}:${port} failed: ${why}`);
    }
  }

  async powerState(): Promise<PowerState> {
    const output = await this.ipmitool('chassis', 'power', 'status');
    const state = parsePowerStatus(output);
    if (!state) throw new DomainError('unavailable', `IPMI power status from ${this.options.host} unreadable: ${output.trim()}`);
    return state;
  }

  async powerOn(): Promise<void> {
    await this.ipmitool('chassis', 'power', 'on');
  }

  async powerOff(): Promise<void> {
    await this.ipmitool('chassis', 'power', 'off');
  }

  async powerCycle(): Promise<void> {
    // Many BMCs refuse a cycle while the chassis is off.
    if ((await this.powerState()) === 'off') await this.powerOn();
    else await this.ipmitool('chassis', 'power', 'cycle');
  }

  async setNextBootPxe(): Promise<void> {
    await this.ipmitool('chassis', 'bootdev', 'pxe');
  }
}
