// An accept command's report as the node sends it: its measurements decoded,
// bounded, and, where the manager cannot take them, a failed suite.
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { CommandPhase, CommandProgressSchema, type AcceptanceFactsSchema } from '@metalfleet/proto';
import { acceptanceLimits, gpuStateOutput } from '@metalfleet/domain';
import { decodeCommandProgress } from './command-wire.ts';

const report = (acceptance: MessageInitShape<typeof AcceptanceFactsSchema>) =>
  toBinary(CommandProgressSchema, create(CommandProgressSchema, { commandId: 'c1', phase: CommandPhase.SUCCEEDED, message: 'ran', acceptance }));

describe('an accept command\'s report', () => {
  it('carries the measurements: links (0 is down), NCCL, DCGM, copies, outputs', () => {
    const decoded = decodeCommandProgress(report({
      nvlinksRead: true, nvlinks: [{ gpuIndex: 5, linkGbs: [26.562, 0] }], nccl: { busbwGbs: 480.3, sizeBytes: 8n * 1024n ** 3n, wrongResults: 0, devices: 8, tool: 'all_reduce_perf' },
      dcgmInstalled: true, dcgm: [{ test: 'Memory', status: 'pass', gpuIds: ['0'], info: '' }],
      copies: { hostToDeviceMeasured: true, hostToDeviceGbs: 55.6, hostToDeviceGpu: 3, peerMeasured: false }, outputs: [{ tool: 'nvbandwidth', text: '…' }],
    }), 262_144);
    expect(decoded).toMatchObject({ ok: true, report: { phase: 'succeeded', acceptance: {
      nvlinks: [{ gpuIndex: 5, links: [26.562, null] }], nccl: { busbwGBs: 480.3, sizeBytes: 8 * 1024 ** 3, devices: 8 },
      dcgm: [{ test: 'Memory', status: 'pass' }], copies: { hostToDevice: { gbs: 55.6, gpu: 3 }, peer: null },
    } } });
  });

  it.each([
    ['more GPUs than a node has', { nvlinksRead: true, nvlinks: Array.from({ length: acceptanceLimits.gpus + 1 }, (_, i) => ({ gpuIndex: i })) }, /more than 64 GPUs/],
    ['a DCGM status of its own', { dcgmInstalled: true, dcgm: [{ test: 'Memory', status: 'great' }] }, /DCGM test Memory with status "great"/],
    ['a bandwidth that is not a number', { nccl: { busbwGbs: Number.NaN } }, /not a number/],
    ['a NUL in a tool output', { outputs: [{ tool: 'x', text: 'a\u0000b' }] }, /NUL/],
    // The GPU state is decoded into the evidence bundle: one a run, within the agent's share, base64 (review finding: 7 zip bombs a run passed).
    ['two GPU states', { outputs: [{ tool: gpuStateOutput.tool, text: 'AAAA' }, { tool: gpuStateOutput.tool, text: 'AAAA' }] }, /2 GPU states/],
    ['a GPU state over its share', { outputs: [{ tool: gpuStateOutput.tool, text: 'A'.repeat(gpuStateOutput.maxChars + 4) }] }, /not base64 of at most 32768/],
    ['a GPU state that is not base64', { outputs: [{ tool: gpuStateOutput.tool, text: '<gpu>not base64</gpu>' }] }, /not base64/],
  ])('with %s is a failed suite, saying why (not a report dropped, the node left accepting)', (_name, acceptance, why) => {
    const decoded = decodeCommandProgress(report(acceptance), 262_144);
    expect(decoded).toMatchObject({ ok: true, report: { commandId: 'c1', phase: 'failed', acceptance: null } });
    expect(decoded.ok && decoded.report.message).toMatch(/^its acceptance report was refused: /);
    expect(decoded.ok && decoded.report.message).toMatch(why);
  });
});
