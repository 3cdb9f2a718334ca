// The OVSDB driver against a real ovsdb-server and ovs-vswitchd; ovs-vsctl is the independent check.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvsdbDriver } from '@metalfleet/fabric';
import { freePort } from '../support/ports.ts';
import { startOvsLab, type LabNode, type OvsLab } from '../support/ovs.ts';

let lab: OvsLab;
let driver: OvsdbDriver;
let a: LabNode;
let b: LabNode;

beforeAll(async () => {
  lab = await startOvsLab();
  a = lab.addNode('a', '192.0.2.21');
  b = lab.addNode('b', '192.0.2.22');
  driver = new OvsdbDriver({ switchName: 'lab', host: '127.0.0.1', port: lab.ovsdbPort, ignorePorts: [lab.bridge] });
}, 60_000);

afterAll(async () => {
  await driver?.close();
  lab?.stop();
});

describe('OvsdbDriver', () => {
  it('lists the switch ports with the VLAN each carries (none yet), leaving out ignored ports', async () => {
    expect(await driver.ports()).toEqual([a, b].map((n) => ({ switchName: 'lab', port: n.port, vlan: null })).sort((x, y) => x.port.localeCompare(y.port)));
  });

  it('sets an access VLAN that ovs-vsctl then reports, and that carries traffic', async () => {
    await driver.setAccessVlan(a.port, 301);
    expect(lab.vsctl('get', 'port', a.port, 'tag')).toBe('301');
    expect(lab.ping(a, b.address)).toBe(false);
    await driver.setAccessVlan(b.port, 301);
    let reached = false;
    for (let i = 0; i < 5 && !reached; i += 1) reached = lab.ping(a, b.address);
    expect(reached).toBe(true);
    expect((await driver.ports()).map((p) => p.vlan)).toEqual([301, 301]);
  });

  it('refuses a port the switch does not have, and one it must not touch, changing nothing', async () => {
    await expect(driver.setAccessVlan('no-such-port', 5)).rejects.toMatchObject({ code: 'not-found', message: 'switch lab has no port no-such-port' });
    await expect(driver.setAccessVlan(lab.bridge, 5)).rejects.toMatchObject({ code: 'invalid-argument' });
    expect(lab.vsctl('get', 'port', lab.bridge, 'tag')).toBe('[]');
  });

  it('answers unavailable, with where it tried, when OVSDB cannot be reached', async () => {
    const nowhere = new OvsdbDriver({ switchName: 'gone', host: '127.0.0.1', port: await freePort(), timeoutMs: 1000 });
    await expect(nowhere.ports()).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('127.0.0.1') });
    await nowhere.close();
  });
});
