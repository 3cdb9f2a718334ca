import { describe, expect, it } from 'vitest';
import { checkAgentCommand, supersedes, type AgentCommand } from './agent-command.ts';

const sha = 'ab'.repeat(32);
const reimage = { imageName: 'ubuntu', imageVersion: '24.04', sha256: sha, bootScriptUrl: 'http://m:8080/boot/ipxe?mac=x', powerCycledByBmc: false };

describe('checkAgentCommand', () => {
  it.each([
    ['reimage', reimage, { kind: 'reimage', args: reimage }],
    ['reimage with a BMC needs no boot script', { ...reimage, bootScriptUrl: '', powerCycledByBmc: true }, { kind: 'reimage', args: { ...reimage, bootScriptUrl: '', powerCycledByBmc: true } }],
    ['reboot (a missing boolean is false, as in protobuf)', {}, { kind: 'reboot', args: { pxeNext: false } }],
    ['reset-gpu', { gpuIndex: 3 }, { kind: 'reset-gpu', args: { gpuIndex: 3 } }],
  ])('accepts %s', (name, args, command) => {
    expect(checkAgentCommand(name.split(' ')[0]!, args)).toEqual({ ok: true, command });
  });

  it.each([
    ['power-off', {}, 'unknown command kind "power-off" (known: reimage, reboot, reset-gpu, accept)'],
    ['reimage', { ...reimage, imageName: '' }, 'reimage command: imageName and imageVersion must be non-empty strings'],
    ['reimage', { ...reimage, sha256: 'ab' }, 'reimage command: sha256 must be 64 hex digits'],
    ['reimage', { ...reimage, powerCycledByBmc: 'true' }, 'reimage command: powerCycledByBmc must be a boolean'],
    ['reimage', { ...reimage, bootScriptUrl: '' }, 'reimage command: bootScriptUrl must be an http(s) URL when the agent reboots the node itself'],
    ['reimage', { ...reimage, image: 'ubuntu@24.04' }, 'reimage command: unexpected argument "image"'],
    ['reboot', { pxeNext: true }, 'reboot command: pxeNext is not supported: a reboot into the network boot is a reimage command'],
    ['reset-gpu', { gpuIndex: '2' }, 'reset-gpu command: gpuIndex must be an integer from 0 to 63'],
    ['reset-gpu', { gpuIndex: -1 }, 'reset-gpu command: gpuIndex must be an integer from 0 to 63'],
    ['reset-gpu', {}, 'reset-gpu command: gpuIndex must be an integer from 0 to 63'],
    ['reset-gpu', null, 'reset-gpu command: arguments must be an object'],
  ])('refuses %s %j', (kind, args, error) => {
    expect(checkAgentCommand(kind, args)).toEqual({ ok: false, error });
  });
});

describe('supersedes: a newer command withdraws an older one, not yet acknowledged, that it makes pointless', () => {
  const reboot: AgentCommand = { kind: 'reboot', args: { pxeNext: false } };
  const gpu = (gpuIndex: number): AgentCommand => ({ kind: 'reset-gpu', args: { gpuIndex } });
  const reimage = (imageVersion: string): AgentCommand => ({
    kind: 'reimage', args: { imageName: 'ubuntu', imageVersion, sha256: 'ab'.repeat(32), bootScriptUrl: 'http://m/boot', powerCycledByBmc: false },
  });
  it.each<[string, AgentCommand, AgentCommand, boolean]>([
    ['a reboot, a reboot', reboot, reboot, true],
    ['a reimage, a reimage of another version', reimage('2'), reimage('1'), true],
    ['a reset of GPU 1, a reset of GPU 1', gpu(1), gpu(1), true],
    ['a reset of GPU 1, a reset of GPU 2', gpu(1), gpu(2), false],
    ['a reimage, a reboot', reimage('1'), reboot, false],
    ['a reboot, a GPU reset', reboot, gpu(0), false],
  ])('%s', (_, newer, older, expected) => {
    expect(supersedes(newer, older)).toBe(expected);
  });
});
