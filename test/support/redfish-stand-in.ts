// A Redfish STAND-IN (no Redfish emulator is installable here, LAB.md): the
// smallest service real clients accept — ServiceRoot, one ComputerSystem with
// ComputerSystem.Reset and a Boot override PATCH, basic authentication.
// Checked against Debian's redfishtool in the test that uses it.
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { aptInstall } from './apt.ts';

/** Debian's redfishtool: the independent client the stand-in is checked with. */
export function ensureRedfishtoolInstalled(): void {
  if (existsSync('/usr/bin/redfishtool')) return;
  aptInstall(['redfishtool']);
}

export interface RedfishStandIn {
  url: string;
  power: 'On' | 'Off';
  bootOverride: { target: string; enabled: string };
  /** Every reset type asked for, in order. */
  resets: string[];
  close(): Promise<void>;
}

export async function startRedfishStandIn(credentials = { username: 'admin', password: 'secret' }): Promise<RedfishStandIn> {
  const state: Omit<RedfishStandIn, 'url' | 'close'> = { power: 'Off', bootOverride: { target: 'None', enabled: 'Disabled' }, resets: [] };
  const system = '/redfish/v1/Systems/1';
  const send = (res: ServerResponse, status: number, body?: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'odata-version': '4.0' });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  const readJson = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
  };
  const expected = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://stand-in').pathname.replace(/\/$/, '');
      if (path === '/redfish') return send(res, 200, { v1: '/redfish/v1/' });
      if (path === '/redfish/v1') {
        return send(res, 200, {
          '@odata.id': '/redfish/v1/', '@odata.type': '#ServiceRoot.v1_5_0.ServiceRoot', Id: 'RootService', Name: 'Root Service (metalfleet stand-in)', RedfishVersion: '1.6.0',
          Systems: { '@odata.id': '/redfish/v1/Systems' }, Managers: { '@odata.id': '/redfish/v1/Managers' }, SessionService: { '@odata.id': '/redfish/v1/SessionService' },
        });
      }
      if (req.headers.authorization !== expected) return send(res, 401, { error: { message: 'authentication required' } });
      if (path === '/redfish/v1/Systems') {
        return send(res, 200, { '@odata.id': '/redfish/v1/Systems', '@odata.type': '#ComputerSystemCollection.ComputerSystemCollection', Name: 'Systems', 'Members@odata.count': 1, Members: [{ '@odata.id': system }] });
      }
      if (path === '/redfish/v1/Managers') return send(res, 200, { '@odata.id': '/redfish/v1/Managers', Name: 'Managers', 'Members@odata.count': 0, Members: [] });
      if (path === '/redfish/v1/SessionService') return send(res, 200, { '@odata.id': '/redfish/v1/SessionService', Id: 'SessionService', Name: 'Session Service', ServiceEnabled: true });
      if (path === system && req.method === 'GET') {
        return send(res, 200, {
          '@odata.id': system, '@odata.type': '#ComputerSystem.v1_10_0.ComputerSystem', Id: '1', Name: 'stand-in node', PowerState: state.power,
          Boot: { BootSourceOverrideTarget: state.bootOverride.target, BootSourceOverrideEnabled: state.bootOverride.enabled },
          Actions: { '#ComputerSystem.Reset': { target: `${system}/Actions/ComputerSystem.Reset`, 'ResetType@Redfish.AllowableValues': ['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart', 'PowerCycle'] } },
        });
      }
      if (path === system && req.method === 'PATCH') {
        const boot = (await readJson(req)).Boot as { BootSourceOverrideTarget?: string; BootSourceOverrideEnabled?: string } | undefined;
        if (!boot) return send(res, 400, { error: { message: 'only Boot may be patched' } });
        state.bootOverride = { target: boot.BootSourceOverrideTarget ?? state.bootOverride.target, enabled: boot.BootSourceOverrideEnabled ?? state.bootOverride.enabled };
        return send(res, 204);
      }
      if (path === `${system}/Actions/ComputerSystem.Reset` && req.method === 'POST') {
        const type = String((await readJson(req)).ResetType ?? '');
        const next: Record<string, 'On' | 'Off'> = { On: 'On', ForceOff: 'Off', GracefulShutdown: 'Off', ForceRestart: 'On', PowerCycle: 'On' };
        if (!next[type]) return send(res, 400, { error: { message: `unsupported ResetType ${type}` } });
        state.resets.push(type);
        state.power = next[type];
        return send(res, 204);
      }
      return send(res, 404, { error: { message: `no resource ${path}` } });
    })().catch((error: unknown) => send(res, 500, { error: { message: String(error) } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const standIn = Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
  return standIn;
}
