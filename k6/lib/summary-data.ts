// Reads the data k6 hands to handleSummary (or writes with --summary-export) into one shape.
// Plain ECMAScript, no k6 imports: `bun test` runs it against recorded samples (k6/test/fixtures).
//
// The shapes met so far:
//  - legacy (k6 < 2 default): { metrics: { name: { type, values: { "p(95)", med, count, rate,
//    passes, fails }, thresholds: { expr: { ok } } } }, root_group, state: { testRunDurationMs } };
//  - machine-readable, as handleSummary sees it (k6 1.5+, --new-machine-readable-summary):
//    { config: { duration }, metadata: { k6_version }, results: { metrics: [{ name, type, values }],
//    checks } }: trend values are named p90 / p95 / med (no p99, no count), rates carry matches /
//    total, counters only count, and there is no threshold result and no `passed` at all;
//  - machine-readable as documented (schema 1.0.0, and what --summary-export writes): the same
//    with "p(95)", "p(99)", count, passes / fails, k6Version, and `results.passed`.

export type SummaryFormat = 'legacy' | 'machine-readable';

/** Values under k6's legacy names: "p(95)", med, avg, min, max, count, rate, passes, fails, value. */
export type Values = Record<string, number>;

export interface MetricData {
  type: string | null;
  values: Values;
}

export interface CheckData {
  name: string;
  passes: number;
  fails: number;
}

export interface SummaryView {
  format: SummaryFormat;
  k6Version: string | null;
  /** Whole run in seconds as k6 counts it: setup and teardown included. */
  runSeconds: number | null;
  metrics: Record<string, MetricData>;
  /** k6's own threshold results (legacy only): metric -> expression -> ok. */
  thresholds: Record<string, Record<string, boolean>> | null;
  /** `results.passed`, where the format carries it. */
  passed: boolean | null;
  checks: CheckData[];
}

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
// handleSummary's machine-readable trend values are Go pointers (*float64) wrapped as objects:
// JSON.stringify prints them as numbers, typeof says "object"; Number() unwraps them.
const numeric = (v: unknown): number | null => num(typeof v === 'object' && v !== null ? Number(v) : v);

/** "p95" -> "p(95)", "p99.9" -> "p(99.9)"; legacy names pass through. */
function statName(key: string): string {
  const m = /^p(\d+(?:\.\d+)?)$/.exec(key);
  return m ? `p(${m[1]})` : key;
}

function valuesOf(raw: unknown): Values {
  const out: Values = {};
  if (!isRec(raw)) return out;
  for (const [k, v] of Object.entries(raw)) {
    const n = numeric(v);
    if (n !== null) out[statName(k)] = n;
  }
  // Machine-readable rates: matches of total; legacy: passes (non-zero samples) and fails.
  if (out['matches'] !== undefined && out['total'] !== undefined && out['passes'] === undefined) {
    out['passes'] = out['matches'];
    out['fails'] = out['total'] - out['matches'];
  }
  return out;
}

function checksOf(list: unknown): CheckData[] {
  if (!Array.isArray(list)) return [];
  const out: CheckData[] = [];
  for (const c of list) {
    if (isRec(c) && typeof c['name'] === 'string') {
      out.push({ name: c['name'], passes: num(c['passes']) ?? 0, fails: num(c['fails']) ?? 0 });
    }
  }
  return out;
}

function groupChecks(group: unknown, out: CheckData[]): void {
  if (!isRec(group)) return;
  out.push(...checksOf(group['checks']));
  if (Array.isArray(group['groups'])) for (const g of group['groups']) groupChecks(g, out);
}

export function readSummary(data: unknown): SummaryView {
  const d = isRec(data) ? data : {};
  const results = isRec(d['results']) ? d['results'] : null;
  if (results === null) return readLegacy(d);

  const metrics: Record<string, MetricData> = {};
  const add = (list: unknown): void => {
    const items = Array.isArray(list) ? list : isRec(list) ? Object.values(list) : [];
    for (const m of items) {
      if (isRec(m) && typeof m['name'] === 'string') {
        metrics[m['name']] = { type: typeof m['type'] === 'string' ? m['type'] : null, values: valuesOf(m['values']) };
      }
    }
  };
  add(results['metrics']);
  const checks = isRec(results['checks']) ? results['checks'] : {};
  add(checks['metrics']);
  // The legacy `checks` rate is called checks_succeeded here.
  const succeeded = metrics['checks_succeeded'];
  if (metrics['checks'] === undefined && succeeded !== undefined) metrics['checks'] = succeeded;
  const config = isRec(d['config']) ? d['config'] : {};
  const meta = isRec(d['metadata']) ? d['metadata'] : {};
  const version = meta['k6_version'] ?? meta['k6Version'];
  return {
    format: 'machine-readable',
    k6Version: typeof version === 'string' ? version : null,
    runSeconds: num(config['duration']),
    metrics,
    thresholds: null,
    passed: typeof results['passed'] === 'boolean' ? results['passed'] : null,
    checks: checksOf(checks['results'] ?? checks['orderedChecks']),
  };
}

function readLegacy(d: Rec): SummaryView {
  const metrics: Record<string, MetricData> = {};
  const thresholds: Record<string, Record<string, boolean>> = {};
  const raw = isRec(d['metrics']) ? d['metrics'] : {};
  for (const [name, m] of Object.entries(raw)) {
    if (!isRec(m)) continue;
    metrics[name] = { type: typeof m['type'] === 'string' ? m['type'] : null, values: valuesOf(m['values']) };
    if (isRec(m['thresholds'])) {
      const byExpr: Record<string, boolean> = {};
      for (const [expr, res] of Object.entries(m['thresholds'])) {
        byExpr[expr] = isRec(res) && res['ok'] === true;
      }
      thresholds[name] = byExpr;
    }
  }
  const checks: CheckData[] = [];
  groupChecks(d['root_group'], checks);
  const state = isRec(d['state']) ? d['state'] : {};
  const ms = num(state['testRunDurationMs']);
  return {
    format: 'legacy',
    k6Version: null,
    runSeconds: ms === null ? null : ms / 1000,
    metrics,
    thresholds,
    passed: null,
    checks,
  };
}

/** One statistic of one metric, or null when the summary does not carry it. */
export function stat(view: SummaryView, metric: string, name: string): number | null {
  return view.metrics[metric]?.values[name] ?? null;
}
