// Redfish (DMTF) over HTTP(S) with basic authentication: the first
// ComputerSystem's PowerState, ComputerSystem.Reset and a one-time PXE boot
// override. BMCs ship self-signed certificates: `insecureTls` accepts them.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { DomainError } from '@metalfleet/domain';
import type { BmcDriver, PowerState } from './bmc-driver.ts';

export interface RedfishOptions {
  /** https://bmc-host[:port] (or http:// for a lab). */
  baseUrl: string;
  username: string;
  password: string;
  insecureTls: boolean;
  timeoutMs?: number;
}

interface ComputerSystem {
  PowerState?: string;
  Actions?: { '#ComputerSystem.Reset'?: { target?: string; 'ResetType@Redfish.AllowableValues'?: string[] } };
}

export class RedfishDriver implements BmcDriver {
  readonly kind = 'redfish';
  private readonly options: RedfishOptions;
  private systemPath: string | null = null;

  constructor(options: RedfishOptions) {
    this.options = options;
  }

  private call(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = new URL(path, this.options.baseUrl);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const auth = Buffer.from(`${this.options.username}:${this.options.password}`).toString('base64');
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, {
        method,
        timeout: this.options.timeoutMs ?? 20_000,
        rejectUnauthorized: !this.options.insecureTls,
        headers: { authorization: `Basic ${auth}`, accept: 'application/json', ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            const code = status === 401 || status === 403 ? 'permission-denied' : 'unavailable';
            reject(new DomainError(code, `Redfish ${method} ${url.pathname} answered ${status}: ${text.slice(0, 200)}`));
            return;
          }
          try {
            resolve(text === '' ? null : JSON.parse(text));
          } catch {
            reject(new DomainError('unavailable', `Redfish ${method} ${url.pathname} answered something that is not JSON`));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (error) => reject(new DomainError('unavailable', `Redfish ${method} ${url.href} failed: ${error.message}`)));
      req.end(payload);
    });
  }

  private async system(): Promise<{ path: string; body: ComputerSystem }> {
    if (!this.systemPath) {
      const systems = (await this.call('GET', '/redfish/v1/Systems')) as { Members?: Array<{ '@odata.id'?: string }> } | null;
      const first = systems?.Members?.[0]?.['@odata.id'];
      if (!first) throw new DomainError('unavailable', `Redfish service at ${this.options.baseUrl} lists no computer system`);
      this.systemPath = first;
    }
    return { path: this.systemPath, body: (await this.call('GET', this.systemPath)) as ComputerSystem };
  }

  private async reset(preferred: readonly string[]): Promise<void> {
    const { path, body } = await this.system();
    const action = body.Actions?.['#ComputerSystem.Reset'];
    const allowed = action?.['ResetType@Redfish.AllowableValues'];
    const resetType = allowed ? preferred.find((t) => allowed.includes(t)) : preferred[0];
    if (!resetType) throw new DomainError('unavailable', `Redfish system allows none of ${preferred.join(', ')} (allows ${allowed?.join(', ')})`);
    await this.call('POST', action?.target ?? `${path}/Actions/ComputerSystem.Reset`, { ResetType: resetType });
  }

  async powerState(): Promise<PowerState> {
    const { body } = await this.system();
    // On, PoweringOff (still on); Off, PoweringOn (still off).
    return body.PowerState === 'On' || body.PowerState === 'PoweringOff' ? 'on' : 'off';
  }

  async powerOn(): Promise<void> {
    await this.reset(['On', 'ForceOn']);
  }

  async powerOff(): Promise<void> {
    await this.reset(['ForceOff', 'GracefulShutdown']);
  }

  async powerCycle(): Promise<void> {
    if ((await this.powerState()) === 'off') await this.powerOn();
    else await this.reset(['PowerCycle', 'ForceRestart', 'GracefulRestart']);
  }

  async setNextBootPxe(): Promise<void> {
    const { path } = await this.system();
    await this.call('PATCH', path, { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' } });
  }
}
