import { describe, expect, it } from 'vitest';
import { parseOvsdbSwitches } from './switch-config.ts';

describe('parseOvsdbSwitches', () => {
  it('reads names, hosts (IPv6 in brackets) and ports', () => {
    expect(parseOvsdbSwitches(' leaf-1=10.0.0.5:6640, leaf-2=[fd00::5]:6641 ')).toEqual([
      { switchName: 'leaf-1', host: '10.0.0.5', port: 6640 },
      { switchName: 'leaf-2', host: 'fd00::5', port: 6641 },
    ]);
    expect(parseOvsdbSwitches('')).toEqual([]);
  });

  it.each(['leaf-1', 'leaf-1=host', 'leaf-1=host:0', 'a=h:1,a=h:2', '=h:1'])('refuses %j with a clear error', (text) => {
    expect(() => parseOvsdbSwitches(text)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});
