import { describe, expect, it } from 'vitest';
import { evaluateHealth, isAnonymous, matchIdentity } from '@metalfleet/domain';
import { createSimulatedBackend, defaultSimulationSeed, simulatedHostname } from './simulated-backend.ts';
import { faultsFor, type FaultKind } from './simulated-faults.ts';

async function findings(faults: FaultKind[]) {
  const backend = createSimulatedBackend({ seed: 's', index: 1, faults: () => faults });
  const readings = await backend.health();
  return evaluateHealth(readings, { ...backend.expectations(), now: new Date() }).map((f) => `${f.component} ${f.code} ${f.severity} ${f.remediation}`);
}

describe('simulated backend', () => {
  it('is the same machine every time it is created with the same seed and index', async () => {
    const a = await createSimulatedBackend({ seed: 's', index: 1 }).identity();
    const again = await createSimulatedBackend({ seed: 's', index: 1 }).identity();
    const other = await createSimulatedBackend({ seed: 's', index: 2 }).identity();
    expect(again).toEqual(a);
    expect(isAnonymous(a)).toBe(false);
    expect(matchIdentity(again, [{ nodeId: 'n1', identity: a }])).toMatchObject({ kind: 'known', nodeId: 'n1' });
    expect(matchIdentity(other, [{ nodeId: 'n1', identity: a }])).toEqual({ kind: 'new' });
  });

  const hashed = /^sim-[0-9a-f]{10}-001$/;
  it.each([
    [defaultSimulationSeed, 1, 'sim-001'],
    ['rack-b', 12, 'rack-b-012'],
    ['browser', 1000, 'browser-1000'],
    // Not a plain host name label, or one that could pass for another seed's name: a hash of the seed.
    ['Rack B', 1, hashed],
    ['sim', 1, hashed],
    ['sim-001', 1, hashed],
    ['x'.repeat(41), 1, hashed],
  ])('names node %i of seed %s after the seed', async (seed, index, expected) => {
    const name = simulatedHostname(seed, index);
    expect(name).toMatch(typeof expected === 'string' ? new RegExp(`^${expected}$`) : expected);
    expect((await createSimulatedBackend({ seed, index }).inventory()).system.hostname).toBe(name);
  });

  it('never gives two fleets of different seeds one host name', () => {
    // Seed1273 and Seed5448 shared a 6-character hash (hostile review).
    const seeds = [defaultSimulationSeed, 'sim', 'sim-1', 'a', 'ab', 'rack-b', 'Rack-B', 'rack_b', 'metalfleet-dev2', '', 'Seed1273', 'Seed5448'];
    const names = seeds.flatMap((seed) => [1, 2, 10].map((index) => simulatedHostname(seed, index)));
    expect(new Set(names).size).toBe(names.length);
  });

  it('is configurable: GPU model and count, NICs, disks', async () => {
    const backend = createSimulatedBackend({ seed: 's', index: 3, spec: { gpuModel: 'NVIDIA H200', gpuCount: 4, nicCount: 3, diskCount: 1 } });
    const inventory = await backend.inventory();
    expect(inventory.gpus.map((g) => g.model)).toEqual(Array(4).fill('NVIDIA H200'));
    expect(inventory.nics).toHaveLength(3);
    expect(inventory.disks).toHaveLength(1);
    expect(inventory.nics[0]?.neighbor?.portId).toMatch(/^Ethernet\d+$/);
    const reading = await backend.telemetry();
    expect(reading.gpus.map((g) => g.uuid)).toEqual(inventory.gpus.map((g) => g.uuid));
  });

  it('is healthy without faults', async () => {
    expect(await findings([])).toEqual([]);
  });

  const cases: Array<[FaultKind, string[]]> = [
    ['xid79-fallen-off-bus', ['node gpu-missing critical reboot', 'gpu:0000:48:00 xid-79 critical reboot']],
    ['xid48-row-remap-failure', [
      'gpu:0000:38:00 ecc-volatile-uncorrectable critical replace', 'gpu:0000:38:00 row-remap-failure critical replace',
      'gpu:0000:38:00 xid-48 critical replace', 'gpu:0000:38:00 xid-64 critical replace',
    ]],
    ['xid119-gsp-timeout', ['node nvidia-smi-unresponsive critical reboot', 'gpu:0000:68:00 xid-119 critical reset-gpu']],
    ['thermal-slowdown', ['gpu:0000:28:00 temperature-high warning none', 'gpu:0000:28:00 thermal-slowdown warning none']],
    ['pcie-x8', ['gpu:0000:58:00 pcie-width-degraded warning replace']],
    ['nvlink-down', ['gpu-nvlink:6 nvlink-down critical reset-gpu']],
    ['smart-failure', ['disk:/dev/nvme1 smart-failed critical replace']],
    ['nic-down', ['nic:eth1 nic-link-down critical none']],
  ];
  it.each(cases)('fault %s is detected', async (fault, expected) => {
    expect(await findings([fault])).toEqual(expected);
  });

  it('reads faults per node from a faults file, reporting unknown names', () => {
    const file = { all: ['pcie-x8'], 3: ['thermal-slowdown', 'melted'] };
    expect(faultsFor(3, file)).toEqual({ faults: ['pcie-x8', 'thermal-slowdown'], unknown: ['melted'] });
    expect(faultsFor(4, file)).toEqual({ faults: ['pcie-x8'], unknown: [] });
    expect(faultsFor(1, null)).toEqual({ faults: [], unknown: [] });
  });
});
