// Where the manager may be told to find a BMC. The manager connects to a BMC
// with its credentials (IPMI, or Redfish with Basic authentication): an
// address anyone may set turns it into a client for hire (SSRF) that hands
// out those credentials. Admins may set any address; operators only IP
// addresses inside --bmc-networks, and nobody but admins when it is empty.
import { BlockList, isIP } from 'node:net';
import { DomainError, type Principal } from '@metalfleet/domain';

export interface BmcNetworks {
  /** The ranges as configured, for messages. */
  readonly ranges: readonly string[];
  /** Throws DomainError (permission-denied, invalid-argument) when `principal` may not point a BMC at `address`. */
  check(principal: Principal, address: string): void;
}

/** An IPv4 address written as IPv4-mapped IPv6 is checked as the IPv4 address it is. */
function plainAddress(address: string): { address: string; family: 'ipv4' | 'ipv6' } | null {
  const bare = address.replace(/^\[(.*)\]$/, '$1');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)?.[1];
  if (mapped && isIP(mapped) === 4) return { address: mapped, family: 'ipv4' };
  const family = isIP(bare);
  return family === 4 ? { address: bare, family: 'ipv4' } : family === 6 ? { address: bare, family: 'ipv6' } : null;
}

/** From `10.1.0.0/16,fd00::/8`; throws DomainError invalid-argument on a range that is not one. */
export function parseBmcNetworks(text: string): BmcNetworks {
  const ranges = text.split(',').map((r) => r.trim()).filter((r) => r !== '');
  const list = new BlockList();
  for (const range of ranges) {
    const [network = '', bits = ''] = range.split('/');
    const parsed = plainAddress(network);
    const prefix = Number(bits);
    if (!parsed || !/^\d+$/.test(bits) || prefix > (parsed.family === 'ipv4' ? 32 : 128)) throw new DomainError('invalid-argument', `${range} is not a CIDR range`);
    list.addSubnet(parsed.address, prefix, parsed.family);
  }
  return {
    ranges,
    check(principal, address) {
      if (principal.role === 'admin') return;
      if (ranges.length === 0) throw new DomainError('permission-denied', 'only admins may set a BMC address (the manager has no --bmc-networks for operators)');
      const parsed = plainAddress(address);
      if (!parsed) throw new DomainError('invalid-argument', `BMC address ${address}: an operator gives an IP address (in ${ranges.join(', ')}), not a name`);
      if (!list.check(parsed.address, parsed.family)) throw new DomainError('permission-denied', `BMC address ${address} is outside the BMC networks (${ranges.join(', ')}); only admins may set it`);
    },
  };
}
