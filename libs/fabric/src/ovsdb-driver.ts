// Open vSwitch as a tenant switch: access ports are rows of the Port table,
// and the access VLAN is the row's `tag` column (an empty set when untagged).
import { DomainError, type ActualPort } from '@metalfleet/domain';
import type { FabricDriver } from './fabric-driver.ts';
import { OvsdbClient, type OvsdbAddress } from './ovsdb-client.ts';

const database = 'Open_vSwitch';

export interface OvsdbDriverOptions extends OvsdbAddress {
  /** The name the manager knows this switch by (its LLDP system name). */
  switchName: string;
  /** Ports the driver never touches: bridge-internal ports and uplinks. */
  ignorePorts?: readonly string[];
  timeoutMs?: number;
}

/** OVSDB's optional integer: a number, or ["set", []] for none. */
function optionalInteger(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}

export class OvsdbDriver implements FabricDriver {
  readonly kind = 'ovsdb';
  readonly switchName: string;
  private readonly options: OvsdbDriverOptions;
  private client: OvsdbClient | null = null;

  constructor(options: OvsdbDriverOptions) {
    this.options = options;
    this.switchName = options.switchName;
  }

  async ports(): Promise<ActualPort[]> {
    const [selected] = await (await this.connection()).transact(database, [{ op: 'select', table: 'Port', where: [], columns: ['name', 'tag'] }]);
    const ignore = new Set(this.options.ignorePorts ?? []);
    return (selected?.rows ?? [])
      .map((row) => ({ switchName: this.switchName, port: String(row['name']), vlan: optionalInteger(row['tag']) }))
      .filter((p) => !ignore.has(p.port))
      .sort((a, b) => a.port.localeCompare(b.port));
  }

  async setAccessVlan(port: string, vlan: number): Promise<void> {
    if ((this.options.ignorePorts ?? []).includes(port)) throw new DomainError('invalid-argument', `port ${port} of ${this.switchName} is not managed`);
    const [updated] = await (await this.connection()).transact(database, [
      { op: 'update', table: 'Port', where: [['name', '==', port]], row: { tag: vlan } },
      { op: 'comment', comment: `metalfleet: ${port} → VLAN ${vlan}` },
    ]);
    if (updated?.count !== 1) throw new DomainError('not-found', `switch ${this.switchName} has no port ${port}`);
  }

  async close(): Promise<void> {
    await this.client?.close();
    this.client = null;
  }

  /** One connection, made again after it drops. */
  private async connection(): Promise<OvsdbClient> {
    if (!this.client?.isOpen) this.client = await OvsdbClient.connect(this.options, this.options.timeoutMs);
    return this.client;
  }
}
