// The BMC drivers against a real IPMI BMC (OpenIPMI's ipmi_sim) and a Redfish
// stand-in that Debian's redfishtool also drives.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpmiDriver, RedfishDriver } from '@metalfleet/power';
import { startBmcLab, type BmcLab } from '../support/bmc-lab.ts';
import { ensureRedfishtoolInstalled, startRedfishStandIn, type RedfishStandIn } from '../support/redfish-stand-in.ts';

describe('IPMI driver against ipmi_sim', () => {
  let bmc: BmcLab;
  beforeAll(async () => {
    bmc = await startBmcLab();
  });
  afterAll(() => bmc?.stop());

  it('reads and switches power, and sets the next boot to PXE', async () => {
    const driver = new IpmiDriver({ host: bmc.host, port: bmc.port, username: bmc.username, password: bmc.password, cipherSuite: 3 });
    expect(await driver.powerState()).toBe('off');
    await driver.powerOn();
    expect(await driver.powerState()).toBe('on');
    expect(bmc.power()).toBe('on');
    await driver.setNextBootPxe();
    await driver.powerCycle();
    expect(bmc.actions()).toEqual(expect.arrayContaining(['power 1', 'boot pxe', 'power 0']));
    await driver.powerOff();
    // ipmi_sim completes a cycle's power-on in the background; off must win in the end.
    for (let i = 0; i < 20 && (await driver.powerState()) !== 'off'; i += 1) await sleep(100);
    expect(await driver.powerState()).toBe('off');
    // Cycling a node that is off powers it on.
    await driver.powerCycle();
    expect(await driver.powerState()).toBe('on');
  });

  it('refuses a wrong password with an error that names the BMC, and changes nothing', async () => {
    const before = bmc.actions().length;
    const driver = new IpmiDriver({ host: bmc.host, port: bmc.port, username: 'admin', password: 'wrong', cipherSuite: 3, timeoutMs: 10_000 });
    await expect(driver.powerOff()).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining(`IPMI chassis power off on 127.0.0.1:${bmc.port} failed`) });
    expect(bmc.actions().length).toBe(before);
  });
});

describe('Redfish driver against the stand-in', () => {
  let redfish: RedfishStandIn;
  beforeAll(async () => {
    ensureRedfishtoolInstalled();
    redfish = await startRedfishStandIn();
  });
  afterAll(() => redfish?.close());

  it('reads and switches power, and sets a one-time PXE boot override', async () => {
    const driver = new RedfishDriver({ baseUrl: redfish.url, username: 'admin', password: 'secret', insecureTls: false });
    expect(await driver.powerState()).toBe('off');
    await driver.powerCycle();
    expect(redfish.resets).toEqual(['On']);
    await driver.setNextBootPxe();
    expect(redfish.bootOverride).toEqual({ target: 'Pxe', enabled: 'Once' });
    await driver.powerCycle();
    await driver.powerOff();
    expect(redfish.resets).toEqual(['On', 'PowerCycle', 'ForceOff']);
    expect(await driver.powerState()).toBe('off');
  });

  it('answers permission-denied for bad credentials and unavailable for a dead BMC', async () => {
    await expect(new RedfishDriver({ baseUrl: redfish.url, username: 'admin', password: 'nope', insecureTls: false }).powerOn()).rejects.toMatchObject({ code: 'permission-denied' });
    await expect(new RedfishDriver({ baseUrl: 'http://127.0.0.1:1', username: 'a', password: 'b', insecureTls: false }).powerState()).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('is driven by Debian\'s redfishtool too (the stand-in is faithful enough)', async () => {
    // Asynchronously: the stand-in answers from this process.
    const tool = async (...args: string[]) => (await promisify(execFile)('redfishtool', ['-r', redfish.url.replace('http://', ''), '-S', 'Never', '-u', 'admin', '-p', 'secret', ...args])).stdout;
    const before = redfish.resets.length;
    await tool('Systems', '-1', 'reset', 'On');
    expect(redfish.resets.slice(before)).toEqual(['On']);
    expect(await tool('Systems', '-1', 'get')).toMatch(/"PowerState":\s*"On"/);
  });
});
