// The end-of-test report: per-operation table, config line from k6's resolved options, verdict
// text. Plain ECMAScript, no k6 imports (unit-tested under bun).

import type { CheckData, SummaryView } from './summary-data.ts';
import { stat } from './summary-data.ts';
import type { Decision, ThresholdResult } from './verdict.ts';

export interface OpRow {
  op: string;
  count: number | null;
  failedRate: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/** Rows for `http_req_*{<scope>,op:<op>}` (scope e.g. "scenario:load"), then the scope's total. */
export function opRows(view: SummaryView, ops: readonly string[], scope: string): OpRow[] {
  const row = (op: string, tags: string): OpRow => {
    const d = `http_req_duration{${tags}}`;
    const f = `http_req_failed{${tags}}`;
    const passes = stat(view, f, 'passes');
    const fails = stat(view, f, 'fails');
    return {
      op,
      count: stat(view, d, 'count') ?? (passes !== null && fails !== null ? passes + fails : null),
      failedRate: stat(view, f, 'rate'),
      p50Ms: stat(view, d, 'med'),
      p95Ms: stat(view, d, 'p(95)'),
      p99Ms: stat(view, d, 'p(99)'),
      maxMs: stat(view, d, 'max'),
    };
  };
  const rows = ops.map((op) => row(op, `op:${op}`));
  rows.push(row('all', scope));
  return rows;
}

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One line per scenario k6 actually ran (after --vus / --duration / -e overrides). */
export function scenarioLines(options: unknown): string[] {
  const scenarios = isRec(options) && isRec(options['scenarios']) ? options['scenarios'] : {};
  const out: string[] = [];
  for (const [name, s] of Object.entries(scenarios)) {
    if (!isRec(s)) continue;
    const parts: string[] = [String(s['executor'])];
    if (s['rate'] !== undefined && s['rate'] !== null) parts.push(`${s['rate']}/${s['timeUnit'] ?? '1s'}`);
    if (s['vus'] !== undefined && s['vus'] !== null) parts.push(`${s['vus']} VUs`);
    if (s['iterations'] !== undefined && s['iterations'] !== null) parts.push(`${s['iterations']} iterations`);
    if (s['duration'] !== undefined && s['duration'] !== null) parts.push(`for ${s['duration']}`);
    if (Array.isArray(s['stages'])) parts.push(`${s['stages'].length} stages`);
    if (s['preAllocatedVUs'] !== undefined && s['preAllocatedVUs'] !== null) {
      parts.push(`VUs ${s['preAllocatedVUs']}..${s['maxVUs'] ?? s['preAllocatedVUs']}`);
    }
    if (s['startTime'] !== undefined && s['startTime'] !== null && s['startTime'] !== '0s')
      parts.push(`from ${s['startTime']}`);
    out.push(`${name}: ${parts.join(' ')}`);
  }
  return out;
}

export function fmtMs(v: number | null): string {
  if (v === null) return 'n/a';
  return v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(1)}ms`;
}

export function fmtPct(v: number | null): string {
  return v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`;
}

export function fmtNum(v: number | null, digits = 1): string {
  return v === null ? 'n/a' : v.toFixed(digits);
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const padL = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

export interface Report {
  script: string;
  view: SummaryView;
  decision: Decision;
  config: string[];
  lines: string[];
  ops: OpRow[];
  thresholds: ThresholdResult[];
}

function checkTotals(checks: CheckData[]): { passes: number; fails: number } {
  let passes = 0;
  let fails = 0;
  for (const c of checks) {
    passes += c.passes;
    fails += c.fails;
  }
  return { passes, fails };
}

export function renderText(r: Report, jsonPath: string): string {
  const lines: string[] = ['', `== k6 ${r.script}: ${r.decision.verdict} ==`];
  for (const reason of r.decision.reasons) lines.push(`  ${reason}`);
  lines.push(`summary format: ${r.view.format}${r.view.k6Version ? ` (k6 ${r.view.k6Version})` : ''}`);
  for (const c of r.config) lines.push(`config: ${c}`);
  lines.push(...r.lines, '');

  const widths = [10, 9, 9, 10, 10, 10, 10];
  const fmtRow = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? pad(c, widths[i] ?? 10) : padL(c, widths[i] ?? 10))).join(' ');
  lines.push(fmtRow(['op', 'requests', 'failed', 'p50', 'p95', 'p99', 'max']));
  for (const o of r.ops) {
    lines.push(
      fmtRow([
        o.op,
        o.count === null ? 'n/a' : String(o.count),
        fmtPct(o.failedRate),
        fmtMs(o.p50Ms),
        fmtMs(o.p95Ms),
        fmtMs(o.p99Ms),
        fmtMs(o.maxMs),
      ]),
    );
  }

  const t = checkTotals(r.view.checks);
  lines.push('', `checks: ${t.passes} ok, ${t.fails} failed`);
  for (const c of r.view.checks) if (c.fails > 0) lines.push(`  x ${c.name}: ${c.fails} failed, ${c.passes} ok`);

  lines.push('', 'thresholds:');
  for (const th of r.thresholds) {
    const mark = th.ok === true ? 'ok  ' : th.ok === false ? 'FAIL' : 'n/a ';
    const seen = th.value === null ? '' : ` (${th.value.toFixed(2)})`;
    lines.push(
      `  ${mark} ${th.metric}: ${th.expr}${seen}${th.source === 'recomputed' ? ' [from the summary values]' : ''}`,
    );
  }
  lines.push('', `full summary: ${jsonPath}`, '');
  return lines.join('\n');
}
