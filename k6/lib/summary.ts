// handleSummary() for every script: writes <SUMMARY_DIR>/<script>-summary.json
// and prints a compact text report (k6's own textSummary lives in a remote
// jslib, which this project does not import).
//
// The data handed to handleSummary has two documented shapes:
//  - the classic one (default): { metrics: { name: { type, values, thresholds } },
//    root_group: { checks, groups }, state: { testRunDurationMs } };
//  - the machine-readable one (k6 >= 1.5 with --new-machine-readable-summary):
//    { config: { duration }, results: { passed, metrics: [...], checks } },
//    which has no per-threshold results.
// Both are read; what a shape does not carry is printed as "n/a".
import { SUMMARY_DIR } from './config.ts';

export interface MetricData {
  type?: string;
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

interface CheckData {
  name: string;
  passes: number;
  fails: number;
}

interface GroupData {
  name?: string;
  checks?: CheckData[];
  groups?: GroupData[];
}

/** The parts of k6's summary data this module reads (both shapes, all optional). */
export interface SummaryData {
  metrics?: Record<string, MetricData>;
  root_group?: GroupData;
  state?: { testRunDurationMs?: number };
  config?: { duration?: number };
  results?: {
    passed?: boolean;
    metrics?: Array<MetricData & { name: string }>;
    checks?: {
      metrics?: Array<MetricData & { name: string }> | Record<string, MetricData & { name: string }>;
      results?: CheckData[];
      orderedChecks?: CheckData[];
    };
  };
}

export interface Digest {
  script: string;
  generated_at: string;
  /** false when any threshold failed (or results.passed is false). */
  passed: boolean;
  duration_s: number | null;
  thresholds: Array<{ metric: string; threshold: string; ok: boolean }>;
  requests: OpRow[];
  checks: { rate: number | null; passes: number; fails: number; failed: CheckData[] };
  extra: Record<string, unknown>;
}

interface OpRow {
  op: string;
  count: number | null;
  failed_rate: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
}

/** Lookup over the metrics of either shape. */
export interface Metrics {
  get(name: string): MetricData | undefined;
  /** A value such as ('http_req_duration{op:get}', 'p(95)'), or null. */
  value(name: string, stat: string): number | null;
  names(): string[];
}

export function metricsOf(data: SummaryData): Metrics {
  const byName: Record<string, MetricData> = {};
  if (data.metrics !== undefined) Object.assign(byName, data.metrics);
  const add = (list: unknown): void => {
    const items = Array.isArray(list) ? list : typeof list === 'object' && list !== null ? Object.values(list) : [];
    for (const m of items as Array<MetricData & { name?: string }>) {
      if (typeof m.name === 'string' && byName[m.name] === undefined) byName[m.name] = m;
    }
  };
  add(data.results?.metrics);
  add(data.results?.checks?.metrics);
  return {
    get: (name) => byName[name],
    value: (name, stat) => {
      const v = byName[name]?.values[stat];
      return typeof v === 'number' && Number.isFinite(v) ? v : null;
    },
    names: () => Object.keys(byName),
  };
}

function collectChecks(group: GroupData | undefined, out: CheckData[]): void {
  if (group === undefined) return;
  for (const c of group.checks ?? []) out.push(c);
  for (const g of group.groups ?? []) collectChecks(g, out);
}

export function digest(script: string, data: SummaryData, ops: readonly string[]): Digest {
  const m = metricsOf(data);

  const thresholds: Digest['thresholds'] = [];
  for (const name of m.names()) {
    for (const [expr, res] of Object.entries(m.get(name)?.thresholds ?? {})) {
      thresholds.push({ metric: name, threshold: expr, ok: res.ok });
    }
  }
  thresholds.sort((a, b) => (a.metric === b.metric ? 0 : a.metric < b.metric ? -1 : 1));

  const row = (op: string, suffix: string): OpRow => ({
    op,
    count: m.value(`http_req_duration${suffix}`, 'count') ?? m.value(`http_reqs${suffix}`, 'count'),
    failed_rate: m.value(`http_req_failed${suffix}`, 'rate'),
    p50_ms: m.value(`http_req_duration${suffix}`, 'med'),
    p95_ms: m.value(`http_req_duration${suffix}`, 'p(95)'),
    p99_ms: m.value(`http_req_duration${suffix}`, 'p(99)'),
    max_ms: m.value(`http_req_duration${suffix}`, 'max'),
  });
  const requests = ops.map((op) => row(op, `{op:${op}}`));
  requests.push(row('all', ''));

  const checkList: CheckData[] = [];
  collectChecks(data.root_group, checkList);
  for (const c of data.results?.checks?.results ?? data.results?.checks?.orderedChecks ?? []) checkList.push(c);
  const checksMetric = m.get('checks') ?? m.get('checks_succeeded');
  let passes = 0;
  let fails = 0;
  for (const c of checkList) {
    passes += c.passes;
    fails += c.fails;
  }
  const rate = checksMetric?.values['rate'] ?? (passes + fails > 0 ? passes / (passes + fails) : null);

  const durationMs = data.state?.testRunDurationMs;
  const durationS = typeof durationMs === 'number' ? durationMs / 1000 : (data.config?.duration ?? null);

  return {
    script,
    generated_at: new Date().toISOString(),
    passed: data.results?.passed ?? thresholds.every((t) => t.ok),
    duration_s: durationS,
    thresholds,
    requests,
    checks: { rate, passes, fails, failed: checkList.filter((c) => c.fails > 0) },
    extra: {},
  };
}

// ---- text -------------------------------------------------------------------

export function fmtMs(v: number | null): string {
  if (v === null) return 'n/a';
  return v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(1)}ms`;
}

export function fmtPct(v: number | null): string {
  return v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function padL(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

export function renderText(d: Digest, extraLines: string[], jsonPath: string): string {
  const lines: string[] = [];
  const verdict = d.passed ? 'PASSED' : 'FAILED';
  lines.push('', `== k6 ${d.script}: ${verdict} ==`);
  if (d.duration_s !== null) lines.push(`duration: ${d.duration_s.toFixed(1)}s`);
  lines.push(...extraLines, '');

  const head = ['op', 'requests', 'failed', 'p50', 'p95', 'p99', 'max'];
  const widths = [10, 10, 9, 10, 10, 10, 10];
  const fmtRow = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? pad(c, widths[i] ?? 10) : padL(c, widths[i] ?? 10))).join(' ');
  lines.push(fmtRow(head));
  for (const r of d.requests) {
    if (r.count === null && r.op !== 'all') continue;
    lines.push(
      fmtRow([
        r.op,
        r.count === null ? 'n/a' : String(r.count),
        fmtPct(r.failed_rate),
        fmtMs(r.p50_ms),
        fmtMs(r.p95_ms),
        fmtMs(r.p99_ms),
        fmtMs(r.max_ms),
      ]),
    );
  }

  lines.push('', `checks: ${fmtPct(d.checks.rate)} passed (${d.checks.passes} ok, ${d.checks.fails} failed)`);
  for (const c of d.checks.failed) lines.push(`  x ${c.name}: ${c.fails} failed, ${c.passes} ok`);

  if (d.thresholds.length > 0) {
    lines.push('', 'thresholds:');
    for (const t of d.thresholds) lines.push(`  ${t.ok ? 'ok  ' : 'FAIL'} ${t.metric}: ${t.threshold}`);
  } else {
    lines.push('', 'thresholds: per-threshold results not in this summary shape; see the verdict above');
  }
  lines.push('', `full summary: ${jsonPath}`, '');
  return lines.join('\n');
}

export interface SummaryHook {
  /** Extra fields for the JSON digest. */
  json?: (m: Metrics, d: Digest, data: SummaryData) => Record<string, unknown>;
  /** Extra lines printed under the verdict. */
  text?: (m: Metrics, d: Digest, data: SummaryData) => string[];
}

/**
 * Returns the handleSummary for `script`: JSON (digest + k6's raw data) to
 * <SUMMARY_DIR>/<script>-summary.json, the text report to stdout. k6 does
 * not create missing folders; if the file cannot be written, k6 logs an
 * error and the stdout report is still printed.
 */
export function summaryHandler(
  script: string,
  ops: readonly string[],
  hook: SummaryHook = {},
): (data: SummaryData) => Record<string, string> {
  return (data: SummaryData) => {
    const m = metricsOf(data);
    const d = digest(script, data, ops);
    d.extra = hook.json?.(m, d, data) ?? {};
    const jsonPath = `${SUMMARY_DIR}/${script}-summary.json`;
    return {
      stdout: renderText(d, hook.text?.(m, d, data) ?? [], jsonPath),
      [jsonPath]: `${JSON.stringify({ ...d, k6: data }, null, 2)}\n`,
    };
  };
}
