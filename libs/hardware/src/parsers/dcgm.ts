// `dcgmi health -c -j` and `dcgmi diag -r N -j` (DCGM 3.x and 4.x layouts).
import type { DcgmDiagResult, DcgmHealthFinding, DcgmVerdict } from '@metalfleet/domain';

type Json = Record<string, unknown>;

function obj(value: unknown): Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}

function list(value: unknown): Json[] {
  return Array.isArray(value) ? value.map(obj) : [];
}

function parseJson(text: string): Json {
  return obj(JSON.parse(text.replace(/^\uFEFF/, '')));
}

function verdict(value: unknown): DcgmVerdict {
  const v = String(value ?? '').toLowerCase();
  return v.startsWith('fail') ? 'fail' : v.startsWith('warn') ? 'warn' : 'pass';
}

export interface DcgmHealthReport {
  overall: DcgmVerdict;
  findings: DcgmHealthFinding[];
}

export function parseDcgmHealth(text: string): DcgmHealthReport {
  const body = obj(parseJson(text)['body']);
  const overall = verdict(obj(body['Overall Health'])['value']);
  const findings: DcgmHealthFinding[] = [];
  for (const [gpuId, gpu] of Object.entries(obj(obj(body['GPU'])['children']))) {
    const errors = obj(obj(obj(gpu)['children'])['Errors'])['children'];
    for (const [system, detail] of Object.entries(obj(errors))) {
      const d = obj(detail);
      const overflow = Array.isArray(d['overflow']) ? d['overflow'].map(String).join('; ') : '';
      findings.push({ gpuId, system, verdict: verdict(d['value']), message: overflow || String(d['value'] ?? '') });
    }
  }
  return { overall, findings };
}

export function parseDcgmDiag(text: string): DcgmDiagResult[] {
  const root = parseJson(text);
  const diag = obj(root['DCGM GPU Diagnostic'] ?? root['DCGM Diagnostic']);
  const results: DcgmDiagResult[] = [];
  for (const category of list(diag['test_categories'])) {
    for (const test of list(category['tests'])) {
      const name = String(test['name'] ?? 'unknown');
      for (const r of list(test['results'])) {
        const warnings = list(r['warnings']);
        const ids = r['gpu_ids'] ?? r['entity_id'];
        results.push({
          test: name,
          gpuIds: ids === undefined || ids === null ? [] : String(ids).split(',').map((s) => s.trim()).filter((s) => s !== ''),
          status: (String(r['status'] ?? 'skip').toLowerCase() as DcgmDiagResult['status']),
          info: [String(r['info'] ?? ''), ...warnings.map((w) => String(w['warning'] ?? ''))].filter((s) => s !== '').join('; '),
          errorSeverity: typeof warnings[0]?.['error_severity'] === 'number' ? (warnings[0]['error_severity'] as number) : null,
        });
      }
    }
  }
  return results;
}
