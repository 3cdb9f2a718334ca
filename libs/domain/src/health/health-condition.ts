// The health model (ARCHITECTURE.md): raw signals become conditions with a
// severity and the remediation an operator (or the manager) should apply.

export const severities = ['ok', 'warning', 'critical'] as const;
export type Severity = (typeof severities)[number];

/** Ordered from least to most disruptive. */
export const remediations = ['none', 'reset-gpu', 'reboot', 'reimage', 'replace'] as const;
export type Remediation = (typeof remediations)[number];

export interface HealthCondition {
  /** What is affected: `gpu:0000:9b:00`, `nvlink:0000:9b:00:3`, `disk:/dev/nvme0n1`, `memory:mc0`, `nic:eth0`, `node`. */
  component: string;
  /** Stable machine-readable code, e.g. `xid-79`, `row-remap-failure`. */
  code: string;
  severity: Severity;
  message: string;
  remediation: Remediation;
  since: Date;
}

export function conditionKey(condition: Pick<HealthCondition, 'component' | 'code'>): string {
  return `${condition.component}|${condition.code}`;
}

export function worseSeverity(a: Severity, b: Severity): Severity {
  return severities.indexOf(a) >= severities.indexOf(b) ? a : b;
}

export function strongerRemediation(a: Remediation, b: Remediation): Remediation {
  return remediations.indexOf(a) >= remediations.indexOf(b) ? a : b;
}

/** The most severe condition, then the strongest remediation, decides a node's state of health. */
export function overallHealth(conditions: readonly HealthCondition[]): { severity: Severity; remediation: Remediation } {
  return conditions.reduce(
    (acc, c) => ({ severity: worseSeverity(acc.severity, c.severity), remediation: c.severity === 'ok' ? acc.remediation : strongerRemediation(acc.remediation, c.remediation) }),
    { severity: 'ok' as Severity, remediation: 'none' as Remediation },
  );
}

/**
 * A condition as a classifier emits it; `since` is filled in by the health tracker. `evidence`: the raw lines that raised
 * it (kernel log), carried by the health event that reports it, never part of the condition (a new line is no change).
 */
export type ConditionFinding = Omit<HealthCondition, 'since'> & { evidence?: string[] };

export function finding(component: string, code: string, severity: Severity, remediation: Remediation, message: string): ConditionFinding {
  return { component, code, severity, remediation, message };
}
