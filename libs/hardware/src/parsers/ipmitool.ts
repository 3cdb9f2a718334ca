// `ipmitool mc info` (BMC firmware) and `ipmitool lan print` (BMC address).

function field(text: string, name: string): string {
  return new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
}

export function parseIpmiMcInfo(text: string): { firmwareRevision: string; manufacturer: string } {
  return { firmwareRevision: field(text, 'Firmware Revision'), manufacturer: field(text, 'Manufacturer Name') };
}

export function parseIpmiLanPrint(text: string): { ipAddress: string; macAddress: string } {
  const ip = field(text, 'IP Address');
  return { ipAddress: ip === '0.0.0.0' ? '' : ip, macAddress: field(text, 'MAC Address').toLowerCase() };
}
