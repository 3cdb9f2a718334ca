// The switches the manager programs, from configuration text.
import { DomainError } from '@metalfleet/domain';
import type { OvsdbDriverOptions } from './ovsdb-driver.ts';

/** "leaf-1=10.0.0.5:6640,leaf-2=[fd00::5]:6640" → one OVSDB driver option set each. */
export function parseOvsdbSwitches(text: string): OvsdbDriverOptions[] {
  const seen = new Set<string>();
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '').map((entry) => {
    const match = /^([^=\s]+)=(\[[^\]]+\]|[^:\s]+):(\d+)$/.exec(entry);
    if (!match) throw new DomainError('invalid-argument', `switch "${entry}" is not <name>=<host>:<port>`);
    const [, switchName = '', host = '', port = ''] = match;
    if (seen.has(switchName)) throw new DomainError('invalid-argument', `switch ${switchName} is listed twice`);
    seen.add(switchName);
    const portNumber = Number(port);
    if (portNumber < 1 || portNumber > 65535) throw new DomainError('invalid-argument', `switch ${switchName}: port ${port} is out of range`);
    return { switchName, host: host.replace(/^\[|\]$/g, ''), port: portNumber };
  });
}
