// Tests of the command executor read what it spooled as the broker would: each
// progress report decoded and taken off the spool.
import { fromBinary } from '@bufbuild/protobuf';
import { CommandPhase, CommandProgressSchema } from '@metalfleet/proto';
import type { Spool } from './spool.ts';

export interface SpooledReport {
  id: string;
  phase: string;
  message: string;
}

/** Moves every progress report in `spool` into `reports`, oldest first. */
export function drainReports(spool: Spool, reports: SpooledReport[]): void {
  for (let entry = spool.head(); entry; entry = spool.head()) {
    const p = fromBinary(CommandProgressSchema, entry.payload);
    reports.push({ id: p.commandId, phase: CommandPhase[p.phase], message: p.message });
    spool.remove(entry.seq);
  }
}
