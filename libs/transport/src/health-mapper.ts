// Proto <-> domain for health conditions and changes.
import { create } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  HealthChangeKind, HealthConditionSchema, Remediation as RemediationMessage, Severity as SeverityMessage,
  type HealthCondition as HealthConditionMessage,
} from '@metalfleet/proto';
import type { HealthChange, HealthCondition, Remediation, Severity } from '@metalfleet/domain';

const severityToProto: Record<Severity, SeverityMessage> = { ok: SeverityMessage.OK, warning: SeverityMessage.WARNING, critical: SeverityMessage.CRITICAL };
const remediationToProto: Record<Remediation, RemediationMessage> = {
  none: RemediationMessage.NONE, 'reset-gpu': RemediationMessage.RESET_GPU, reboot: RemediationMessage.REBOOT,
  reimage: RemediationMessage.REIMAGE, replace: RemediationMessage.REPLACE,
};
const severityFromProto = new Map<SeverityMessage, Severity>(Object.entries(severityToProto).map(([k, v]) => [v, k as Severity]));
const remediationFromProto = new Map<RemediationMessage, Remediation>(Object.entries(remediationToProto).map(([k, v]) => [v, k as Remediation]));

export const changeKindToProto: Record<HealthChange['kind'], HealthChangeKind> = {
  appeared: HealthChangeKind.APPEARED, changed: HealthChangeKind.CHANGED, cleared: HealthChangeKind.CLEARED,
};
export const changeKindFromProto = new Map<HealthChangeKind, HealthChange['kind']>(Object.entries(changeKindToProto).map(([k, v]) => [v, k as HealthChange['kind']]));

export function conditionToProto(c: HealthCondition): HealthConditionMessage {
  return create(HealthConditionSchema, {
    component: c.component, code: c.code, severity: severityToProto[c.severity], message: c.message,
    remediation: remediationToProto[c.remediation], since: timestampFromDate(c.since),
  });
}

/** Null when the message lacks what a condition needs (an unknown severity, no component). */
export function conditionFromProto(m: HealthConditionMessage | undefined): HealthCondition | null {
  if (!m || m.component === '' || m.code === '') return null;
  const severity = severityFromProto.get(m.severity);
  const remediation = remediationFromProto.get(m.remediation);
  if (!severity || !remediation) return null;
  return { component: m.component, code: m.code, severity, remediation, message: m.message, since: m.since ? timestampDate(m.since) : new Date(0) };
}
