// Environment parsing and option helpers shared by every k6 script.
// Runs in k6 (not Node): only k6 built-ins and plain ECMAScript here.
import type { Threshold } from 'k6/options';

export function envStr(name: string, fallback: string): string {
  const v = __ENV[name];
  return v === undefined || v.trim() === '' ? fallback : v.trim();
}

export function envNum(name: string, fallback: number): number {
  const raw = __ENV[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) {
    throw new Error(`env ${name}=${JSON.stringify(raw)} is not a number`);
  }
  return n;
}

export function envBool(name: string, fallback: boolean): boolean {
  const raw = __ENV[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return !['0', 'false', 'no', 'off'].includes(raw.trim().toLowerCase());
}

/** Base URL of the service, without a trailing slash. */
export const BASE_URL = envStr('BASE_URL', 'http://localhost:8000').replace(/\/+$/, '');

/** Folder for `<script>-summary.json`; relative paths are relative to k6's working directory. */
export const SUMMARY_DIR = envStr('SUMMARY_DIR', 'k6/results').replace(/\/+$/, '');

/** Per-request timeout (k6 default is 60s). */
export const HTTP_TIMEOUT = envStr('HTTP_TIMEOUT', '30s');

/**
 * Trend statistics kept in the end-of-test data. k6's default set has no p(99)
 * and no count, and handleSummary only sees what is listed here.
 */
export const TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'];

/** The operations of the tasks API, used as the `op` tag on every request. */
export const CRUD_OPS = ['create', 'list', 'get', 'update', 'delete'] as const;

/**
 * Builds `metric{op:<op>}` thresholds for every op. Besides gating, a
 * threshold is what makes k6 keep a tagged sub-metric, so the per-op table
 * in the summary exists only for metrics listed here.
 */
export function perOpThresholds(
  ops: readonly string[],
  rules: Record<string, Threshold[]>,
): Record<string, Threshold[]> {
  const out: Record<string, Threshold[]> = {};
  for (const op of ops) {
    for (const metric of Object.keys(rules)) {
      out[`${metric}{op:${op}}`] = rules[metric] ?? [];
    }
  }
  return out;
}

/** Sleeps are expressed in seconds; jitter keeps VUs from moving in lockstep. */
export function jittered(seconds: number): number {
  return seconds <= 0 ? 0 : seconds * (0.5 + Math.random());
}

/** Seconds in a k6 duration string such as "90s", "5m", "1h30m", "1m30.5s", "250ms". */
export function durationSeconds(d: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(d); m !== null; m = re.exec(d)) {
    const n = Number(m[1]);
    const unit = m[2];
    total += unit === 'h' ? n * 3600 : unit === 'm' ? n * 60 : unit === 's' ? n : n / 1000;
    consumed += m[0].length;
  }
  if (consumed === 0 || consumed !== d.length) throw new Error(`not a k6 duration: ${JSON.stringify(d)}`);
  return total;
}
