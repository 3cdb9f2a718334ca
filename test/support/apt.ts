// Installing the Debian packages a test needs, the one way every test does it.
// Test files run in parallel and each may install what it needs at the same
// moment (CI starts bare): apt waits for the other's dpkg lock instead of
// failing at once ("Could not get lock /var/lib/dpkg/lock-frontend"), which
// failed a whole suite once.
import { execFileSync } from 'node:child_process';

export function aptInstall(packages: string[], options: { recommends?: boolean } = {}): void {
  execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '-q', ...(options.recommends === false ? ['--no-install-recommends'] : []), ...packages],
    { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}
