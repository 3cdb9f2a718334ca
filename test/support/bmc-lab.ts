// A real BMC for tests: OpenIPMI's ipmi_sim on 127.0.0.1 with a chassis
// control hook that keeps power and boot device in files (recipe: LAB.md).
// Installed on first use; stop() kills it by pid.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.ts';
import { aptInstall } from './apt.ts';

export function ensureIpmiInstalled(): void {
  if (existsSync('/usr/bin/ipmi_sim') && existsSync('/usr/bin/ipmitool')) return;
  aptInstall(['openipmi', 'ipmitool']);
}

// ipmi_sim calls `hook <dir> get power boot` and `hook <dir> set power 1 boot pxe …`; it must answer fast.
const hook = `#!/bin/sh
dir=$1; op=$2; shift 2
if [ "$op" = get ]; then
  for item in "$@"; do
    case $item in
      power) echo "power:$(cat "$dir/power" 2>/dev/null || echo 0)";;
      boot) echo "boot:$(cat "$dir/boot" 2>/dev/null || echo default)";;
    esac
  done
  exit 0
fi
while [ $# -ge 2 ]; do
  case $1 in
    power) echo "$2" > "$dir/power";;
    shutdown) echo 0 > "$dir/power";;
    boot) echo "$2" > "$dir/boot";;
  esac
  echo "$1 $2" >> "$dir/actions"
  shift 2
done
`;

export interface BmcLab {
  host: string;
  port: number;
  username: string;
  password: string;
  /** What the chassis hook saw, in order ("power 1", "boot pxe", …). */
  actions(): string[];
  /** The power the simulated chassis has now. */
  power(): 'on' | 'off';
  /** Calls `listener` with each new chassis action, in order (polled every 100 ms). */
  watchActions(listener: (action: string) => void): () => void;
  /** What the machine did by itself (it powered off): the BMC reports it from now on. */
  setPower(on: boolean): void;
  stop(): void;
}

/** `password`: the admin's (IPMI allows at most 20 bytes); default `secret`. */
export async function startBmcLab(options: { password?: string } = {}): Promise<BmcLab> {
  const password = options.password ?? 'secret';
  ensureIpmiInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'mf-bmc-'));
  const chassis = join(dir, 'chassis');
  mkdirSync(chassis);
  mkdirSync(join(dir, 'state'));
  writeFileSync(join(dir, 'hook.sh'), hook);
  chmodSync(join(dir, 'hook.sh'), 0o755);
  const port = await freePort();
  writeFileSync(join(dir, 'lan.conf'), `name "mf-test-bmc"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 ${port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "${join(dir, 'hook.sh')} ${chassis}"
user 2 true "admin" "${password}" admin 10 none md2 md5 straight
`);
  writeFileSync(join(dir, 'bmc.emu'), `mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
`);
  const child: ChildProcess = spawn('ipmi_sim', ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'bmc.emu'), '-s', join(dir, 'state'), '-n'], { stdio: 'ignore' });
  // Ready when it answers a status request.
  for (let i = 0; ; i += 1) {
    try {
      execFileSync('ipmitool', ['-I', 'lanplus', '-C', '3', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-P', password, '-N', '1', '-R', '1', 'chassis', 'power', 'status'], { stdio: 'ignore' });
      break;
    } catch (error) {
      if (i >= 50) throw new Error('ipmi_sim did not answer within 10 s', { cause: error });
      await sleep(200);
    }
  }
  const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');
  return {
    host: '127.0.0.1', port, username: 'admin', password,
    actions: () => read(join(chassis, 'actions')).split('\n').filter((l) => l !== ''),
    power: () => (read(join(chassis, 'power')).trim() === '1' ? 'on' : 'off'),
    watchActions(listener) {
      let seen = read(join(chassis, 'actions')).split('\n').filter((l) => l !== '').length;
      const timer = setInterval(() => {
        const lines = read(join(chassis, 'actions')).split('\n').filter((l) => l !== '');
        for (const line of lines.slice(seen)) listener(line);
        seen = lines.length;
      }, 100);
      return () => clearInterval(timer);
    },
    setPower: (on) => writeFileSync(join(chassis, 'power'), on ? '1\n' : '0\n'),
    stop() {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
