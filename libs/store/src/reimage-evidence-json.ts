// A reimage's evidence as JSON text in operation_nodes.evidence (times as
// epoch milliseconds). Rows written before the column existed hold '{}'.
import { noEvidence, type ReimageEvidence } from '@metalfleet/domain';

interface EvidenceJson {
  rebootBy?: 'bmc' | 'agent' | null;
  rebootAckedAt?: number | null;
  powerCycledAt?: number | null;
  installBoot?: { at: number; peer: string } | null;
  installRegisteredAt?: number | null;
  missing?: ReimageEvidence['missing'];
}

const millis = (d: Date | null) => d?.getTime() ?? null;
const date = (n: number | null | undefined) => (typeof n === 'number' ? new Date(n) : null);

export function evidenceToJson(e: ReimageEvidence): string {
  const json: EvidenceJson = {
    rebootBy: e.rebootBy, rebootAckedAt: millis(e.rebootAckedAt), powerCycledAt: millis(e.powerCycledAt),
    installBoot: e.installBoot ? { at: e.installBoot.at.getTime(), peer: e.installBoot.peer } : null, installRegisteredAt: millis(e.installRegisteredAt), missing: e.missing,
  };
  return JSON.stringify(json);
}

export function evidenceFromJson(text: string): ReimageEvidence {
  const j = JSON.parse(text) as EvidenceJson;
  return {
    ...noEvidence(),
    rebootBy: j.rebootBy ?? null, rebootAckedAt: date(j.rebootAckedAt), powerCycledAt: date(j.powerCycledAt),
    installBoot: j.installBoot ? { at: new Date(j.installBoot.at), peer: j.installBoot.peer } : null, installRegisteredAt: date(j.installRegisteredAt), missing: j.missing ?? null,
  };
}
