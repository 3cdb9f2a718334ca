// deploy/dnsmasq's proxy DHCP, for real: a boot segment in network namespaces
// this test creates (a bridge, a tap for the VM), the site's own DHCP server
// (a plain dnsmasq that leases addresses and knows nothing of PXE) and
// deploy/dnsmasq/metalfleet-proxy-dhcp.conf beside it. QEMU's iPXE must get
// its address from the first and the manager's boot URL from the second. The
// boot endpoint here is a recorder standing in for the manager (the manager's
// own endpoint is exercised end to end in pxe.test.ts).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/processes.ts';
import { ensureQemuInstalled } from '../support/pxe-vm.ts';
import { aptInstall } from '../support/apt.ts';

const repo = resolve(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'mf-proxy-dhcp-'));
const suffix = Math.random().toString(36).slice(2, 7);
const ns = { segment: `mfseg-${suffix}`, site: `mfsite-${suffix}`, proxy: `mfprx-${suffix}` };
const mac = '52:54:00:6d:66:02';
const children: ChildProcess[] = [];
/** Set in afterAll: output still in the pipes then is not written into the removed folder. */
let closing = false;

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
function inNamespace(name: string, command: string, args: string[], log: string): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', name, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    if (!closing) writeFileSync(join(dir, log), output);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  children.push(child);
  return child;
}
const read = (file: string) => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : '');

beforeAll(() => {
  ensureQemuInstalled();
  if (!existsSync('/usr/sbin/dnsmasq')) aptInstall(['dnsmasq-base']);
  for (const name of Object.values(ns)) {
    ip('netns', 'add', name);
    ip('-n', name, 'link', 'set', 'lo', 'up');
  }
  ip('-n', ns.segment, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', ns.segment, 'link', 'set', 'br0', 'up');
  for (const [peer, port, address] of [[ns.site, 's0', '10.77.0.2/24'], [ns.proxy, 'p0', '10.77.0.3/24']] as const) {
    ip('-n', ns.segment, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer);
    ip('-n', ns.segment, 'link', 'set', port, 'master', 'br0', 'up');
    ip('-n', peer, 'addr', 'add', address, 'dev', 'eth0');
    ip('-n', peer, 'link', 'set', 'eth0', 'up');
  }
  ip('-n', ns.segment, 'tuntap', 'add', 'tap0', 'mode', 'tap');
  ip('-n', ns.segment, 'link', 'set', 'tap0', 'master', 'br0', 'up');

  // The site's DHCP server: addresses only.
  inNamespace(ns.site, 'dnsmasq', ['--no-daemon', '--conf-file=/dev/null', '--port=0', '--interface=eth0', '--bind-interfaces', '--log-dhcp',
    '--dhcp-range=10.77.0.100,10.77.0.150,1h', `--dhcp-leasefile=${join(dir, 'site.leases')}`, `--pid-file=${join(dir, 'site.pid')}`], 'site.log');
  // metalfleet's proxy, from the shipped file with its two CHANGE values filled in.
  const shipped = readFileSync(join(repo, 'deploy', 'dnsmasq', 'metalfleet-proxy-dhcp.conf'), 'utf8');
  writeFileSync(join(dir, 'proxy.conf'), shipped.replace(/^dhcp-range=.*$/m, 'dhcp-range=10.77.0.0,proxy').replaceAll('http://manager.example:7473', 'http://10.77.0.3:8080'));
  inNamespace(ns.proxy, 'dnsmasq', ['--no-daemon', '-C', join(dir, 'proxy.conf'), '--interface=eth0', `--pid-file=${join(dir, 'proxy.pid')}`], 'proxy.log');
  // Stand-in for the manager's boot endpoint: records what iPXE asks for.
  inNamespace(ns.proxy, process.execPath, ['-e', `require('node:http').createServer((q, r) => { console.log('GET ' + q.url + ' from ' + q.socket.remoteAddress); r.end('#!ipxe\\necho metalfleet boot script\\n'); }).listen(8080, '10.77.0.3')`], 'boot-endpoint.log');
  inNamespace(ns.segment, 'qemu-system-x86_64', ['-nographic', '-no-reboot', '-m', '256', '-boot', 'n', '-device', `virtio-net-pci,netdev=n0,mac=${mac}`,
    '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no'], 'vm.log');
});

afterAll(() => {
  closing = true;
  for (const child of children) child.kill('SIGKILL');
  for (const name of Object.values(ns)) {
    try {
      ip('netns', 'del', name);
    } catch {
      // Already gone.
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('proxy DHCP (deploy/dnsmasq)', () => {
  it('points iPXE at the manager\'s boot endpoint while the site\'s DHCP server hands out the address', async () => {
    const log = await eventually(async () => read('boot-endpoint.log'), (l) => l.includes('GET /boot/ipxe'), 90_000).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n--- VM ---\n${read('vm.log').slice(-2000)}\n--- proxy ---\n${read('proxy.log').slice(-2000)}`, { cause: error });
    });
    expect(log).toMatch(/^GET \/boot\/ipxe from (?:::ffff:)?10\.77\.0\.(\d+)$/m);
    const address = /from (?:::ffff:)?(10\.77\.0\.\d+)/.exec(log)?.[1];
    // The lease is the site server's; the proxy answered as a proxy and leased nothing.
    expect(read('site.leases')).toContain(`${mac} ${address}`);
    expect(read('proxy.log')).toContain(`PXE(eth0) ${mac} proxy`);
    expect(read('proxy.log')).not.toMatch(/DHCPACK|DHCPOFFER/);
    // The console may still be printing the script it fetched.
    expect(await eventually(async () => read('vm.log'), (l) => l.includes('metalfleet boot script'), 10_000)).toContain('metalfleet boot script');
  }, 120_000);
});
