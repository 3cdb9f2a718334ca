// `lldpcli show neighbors -f json` → which switch and port each NIC is cabled to.
// lldpd prints one interface as an object and several as an array.

export interface LldpNeighbor {
  nic: string;
  switchName: string;
  switchId: string;
  portId: string;
  portDescription: string;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const first = (v: unknown): Json => obj(Array.isArray(v) ? v[0] : v);
const value = (v: unknown): string => {
  if (typeof v === 'string') return v;
  const o = first(v);
  return typeof o['value'] === 'string' ? o['value'] : '';
};

export function parseLldpNeighbors(text: string): LldpNeighbor[] {
  const interfaces = obj(JSON.parse(text))['lldp'];
  const raw = obj(interfaces)['interface'];
  const entries: Array<[string, Json]> = Array.isArray(raw)
    ? raw.flatMap((item) => Object.entries(obj(item)).map(([k, v]): [string, Json] => [k, obj(v)]))
    : Object.entries(obj(raw)).map(([k, v]): [string, Json] => [k, obj(v)]);
  return entries.map(([nic, data]) => {
    const chassis = obj(data['chassis']);
    const [switchName = '', chassisData] = Object.entries(chassis)[0] ?? [];
    const c = obj(chassisData);
    const port = obj(data['port']);
    return {
      nic,
      switchName: switchName === 'id' ? value(c['name']) : switchName,
      switchId: value(c['id'] ?? chassis['id']),
      portId: value(port['id']),
      portDescription: value(port['descr']),
    };
  });
}
