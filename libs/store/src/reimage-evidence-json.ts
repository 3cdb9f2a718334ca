// A reimage's evidence and failure as JSON text in operation_nodes.evidence (times as
// epoch milliseconds). Rows written before the column existed hold '{}'.
import { noEvidence, type InstallProof, type ReimageEvidence, type ReimageFailure } from '@metalfleet/domain';

interface EvidenceJson {
  rebootBy?: 'bmc' | 'agent' | null;
  rebootAckedAt?: number | null;
  powerCycledAt?: number | null;
  installBoot?: { at: number; peer: string } | null;
  installRegisteredAt?: number | null;
  missing?: ReimageEvidence['missing'];
  proof?: InstallProof | null;
  refused?: { at: number; step: 'boot-script' | 'registration'; peer: string; reason: string } | null;
}

const millis = (d: Date | null) => d?.getTime() ?? null;
const date = (n: number | null | undefined) => (typeof n === 'number' ? new Date(n) : null);

export function evidenceToJson(e: ReimageEvidence): string {
  const json: EvidenceJson = {
    rebootBy: e.rebootBy, rebootAckedAt: millis(e.rebootAckedAt), powerCycledAt: millis(e.powerCycledAt),
    installBoot: e.installBoot ? { at: e.installBoot.at.getTime(), peer: e.installBoot.peer } : null, installRegisteredAt: millis(e.installRegisteredAt), missing: e.missing, proof: e.proof,
    refused: e.refused ? { ...e.refused, at: e.refused.at.getTime() } : null,
  };
  return JSON.stringify(json);
}

export function evidenceFromJson(text: string): ReimageEvidence {
  const j = JSON.parse(text) as EvidenceJson;
  return {
    ...noEvidence(),
    rebootBy: j.rebootBy ?? null, rebootAckedAt: date(j.rebootAckedAt), powerCycledAt: date(j.powerCycledAt),
    installBoot: j.installBoot ? { at: new Date(j.installBoot.at), peer: j.installBoot.peer } : null, installRegisteredAt: date(j.installRegisteredAt), missing: j.missing ?? null, proof: j.proof ?? null,
    refused: j.refused ? { ...j.refused, at: new Date(j.refused.at) } : null,
  };
}

/** Why a node's reimage failed, as JSON text in operation_nodes.failure (null unless it failed). */
export function failureToJson(f: ReimageFailure | null): string | null {
  return f === null ? null : JSON.stringify({ code: f.code, phase: f.phase, details: f.details });
}

export function failureFromJson(text: string | null): ReimageFailure | null {
  if (text === null || text === '') return null;
  const j = JSON.parse(text) as Partial<ReimageFailure>;
  return { code: j.code ?? 'node-busy', phase: j.phase ?? 'queued', details: j.details ?? '' };
}
