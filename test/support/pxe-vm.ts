// A machine for the PXE tests: a QEMU VM (TCG, no KVM) with a real SMBIOS
// system UUID, a raw virtual disk and a virtio NIC, whose power is an
// ipmi_sim BMC's: the chassis hook records "power 1", "power 0", "reset 1"
// and this watcher starts and stops QEMU to match (recipe: LAB.md). The
// guest's user-mode network reaches nothing but the manager's boot, gRPC and MQTT ports,
// forwarded from 10.0.2.100 to loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { BmcLab } from './bmc-lab.ts';
import { aptInstall } from './apt.ts';

/** The address the manager has inside the guest's private network. */
export const guestManagerHost = '10.0.2.100';

export function ensureQemuInstalled(): void {
  const needed = { '/usr/bin/qemu-system-x86_64': 'qemu-system-x86', '/usr/lib/ipxe/qemu/efi-virtio.rom': 'ipxe-qemu', '/bin/busybox': 'busybox-static', '/usr/bin/curl': 'curl' };
  const missing = Object.entries(needed).filter(([path]) => !existsSync(path)).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  aptInstall([...missing]);
}

export interface PxeVmOptions {
  bmc: BmcLab;
  uuid: string;
  mac: string;
  diskPath: string;
  /** Manager ports on 127.0.0.1, forwarded into the guest at the same numbers on 10.0.2.100. */
  ports: { boot: number; grpc: number; mqtt: number };
  /** Where the serial console goes. */
  consoleLog: string;
  memoryMiB?: number;
}

export interface PxeVm {
  /** Times QEMU was started (power-ons). */
  readonly boots: number;
  running(): boolean;
  console(): string;
  stop(): Promise<void>;
}

export function attachPxeVm(options: PxeVmOptions): PxeVm {
  const { boot, grpc, mqtt } = options.ports;
  const forward = (port: number) => `guestfwd=tcp:${guestManagerHost}:${port}-cmd:busybox nc 127.0.0.1 ${port}`;
  const args = [
    '-nographic', '-no-reboot', '-m', String(options.memoryMiB ?? 768), '-smp', '1', '-uuid', options.uuid, '-boot', 'n',
    '-drive', `file=${options.diskPath},format=raw,if=virtio`,
    '-device', `virtio-net-pci,netdev=n0,mac=${options.mac}`,
    '-netdev', ['user,id=n0,restrict=on', `bootfile=http://${guestManagerHost}:${boot}/boot/ipxe`, forward(boot), forward(grpc), forward(mqtt)].join(','),
  ];
  let qemu: ChildProcess | null = null;
  let boots = 0;
  let queue = Promise.resolve();

  const powerOff = async () => {
    const running = qemu;
    qemu = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  const powerOn = () => {
    if (qemu) return;
    boots += 1;
    appendFileSync(options.consoleLog, `\n===== power on #${boots} =====\n`);
    const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk: Buffer) => appendFileSync(options.consoleLog, chunk));
    child.stderr?.on('data', (chunk: Buffer) => appendFileSync(options.consoleLog, chunk));
    // The guest powering itself off (or dying) is the chassis going off.
    child.once('exit', () => {
      if (qemu === child) {
        qemu = null;
        options.bmc.setPower(false);
      }
    });
    qemu = child;
  };

  const unwatch = options.bmc.watchActions((action) => {
    queue = queue.then(async () => {
      if (action === 'power 1') powerOn();
      if (action === 'power 0' || action === 'shutdown 1') await powerOff();
      if (action === 'reset 1') {
        await powerOff();
        powerOn();
      }
    });
  });

  return {
    get boots() {
      return boots;
    },
    running: () => qemu !== null,
    console: () => (existsSync(options.consoleLog) ? readFileSync(options.consoleLog, 'utf8') : ''),
    async stop() {
      unwatch();
      await queue;
      await powerOff();
    },
  };
}
