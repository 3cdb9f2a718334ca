import { describe, expect, it } from 'vitest';
import { linksDiffer, linksSeenBySwitches } from './switch-seen.ts';

describe("cabling from the switch's own view", () => {
  const owners = new Map([['aa:00:00:00:00:01', 'a'], ['bb:00:00:00:00:01', 'b']]);

  it.each([
    { name: 'maps each known MAC to the port it was seen on', seen: [{ switchName: 's', port: 'p1', mac: 'AA:00:00:00:00:01' }, { switchName: 's', port: 'p2', mac: 'bb:00:00:00:00:01' }], expected: { a: ['p1'], b: ['p2'] } },
    { name: 'leaves out MACs no node owns', seen: [{ switchName: 's', port: 'p3', mac: '02:00:00:00:00:99' }], expected: {} },
    { name: 'keeps a MAC seen on two ports as two claims (the domain rules decide)', seen: [{ switchName: 's', port: 'p1', mac: 'aa:00:00:00:00:01' }, { switchName: 's', port: 'p9', mac: 'aa:00:00:00:00:01' }, { switchName: 's', port: 'p9', mac: 'aa:00:00:00:00:01' }], expected: { a: ['p1', 'p9'] } },
  ])('$name', ({ seen, expected }) => {
    const byNode = linksSeenBySwitches(seen, owners);
    expect(Object.fromEntries([...byNode].map(([node, links]) => [node, links.map((l) => l.port)]))).toEqual(expected);
  });

  it('tells a changed set of links from the same set in another order', () => {
    const l = (port: string) => ({ nodeId: 'a', mac: 'aa:00:00:00:00:01', switchName: 's', port });
    expect(linksDiffer([l('p1'), l('p2')], [l('p2'), l('p1')])).toBe(false);
    expect(linksDiffer([l('p1')], [l('p1'), l('p2')])).toBe(true);
    expect(linksDiffer([], [])).toBe(false);
  });
});
