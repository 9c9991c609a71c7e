// Decides a run's verdict from its summary. Plain ECMAScript, no k6 imports (unit-tested under bun).
//
// PASSED needs positive evidence for every declared threshold and every guard. Where the summary
// has k6's own threshold result (legacy format) that result is used; otherwise the expression is
// evaluated against the summary's values; where neither is possible (the machine-readable format
// has no p(99), for instance) the verdict is UNVERIFIED, never PASSED. Guards cover what thresholds
// cannot see: an aborted setup, a run cut short, a walk that never reached its end.

import type { SummaryView } from './summary-data.ts';
import { stat } from './summary-data.ts';

export type Verdict = 'PASSED' | 'FAILED' | 'UNVERIFIED';

export interface ThresholdResult {
  metric: string;
  expr: string;
  ok: boolean | null;
  /** The observed value, when the summary carries it. */
  value: number | null;
  source: 'k6' | 'recomputed' | 'absent';
}

export interface Guard {
  name: string;
  ok: boolean | null;
  detail: string;
}

export interface Decision {
  verdict: Verdict;
  reasons: string[];
}

const EXPR =
  /^\s*(count|rate|value|min|max|avg|med|p\(\d+(?:\.\d+)?\))\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/;

export interface ParsedThreshold {
  stat: string;
  op: string;
  limit: number;
}

export function parseThreshold(expr: string): ParsedThreshold | null {
  const m = EXPR.exec(expr);
  if (m === null) return null;
  return { stat: m[1] as string, op: m[2] as string, limit: Number(m[3]) };
}

export function compare(value: number, op: string, limit: number): boolean {
  switch (op) {
    case '<':
      return value < limit;
    case '<=':
      return value <= limit;
    case '>':
      return value > limit;
    case '>=':
      return value >= limit;
    case '==':
    case '===':
      return value === limit;
    case '!=':
      return value !== limit;
    default:
      return false;
  }
}

/** A threshold as k6 accepts it in options: a string or { threshold, abortOnFail, ... }. */
export type DeclaredThreshold = string | { threshold: string };
export type DeclaredThresholds = Record<string, DeclaredThreshold[]>;

export function evaluateThresholds(view: SummaryView, declared: DeclaredThresholds): ThresholdResult[] {
  const out: ThresholdResult[] = [];
  for (const metric of Object.keys(declared).sort()) {
    for (const t of declared[metric] ?? []) {
      const expr = typeof t === 'string' ? t : t.threshold;
      const parsed = parseThreshold(expr);
      const value = parsed === null ? null : stat(view, metric, parsed.stat);
      const fromK6 = view.thresholds?.[metric]?.[expr];
      if (fromK6 !== undefined) {
        out.push({ metric, expr, ok: fromK6, value, source: 'k6' });
      } else if (parsed !== null && value !== null) {
        out.push({ metric, expr, ok: compare(value, parsed.op, parsed.limit), value, source: 'recomputed' });
      } else {
        out.push({ metric, expr, ok: null, value, source: 'absent' });
      }
    }
  }
  return out;
}

export function decide(view: SummaryView, thresholds: ThresholdResult[], guards: Guard[]): Decision {
  const reasons: string[] = [];
  let failed = false;
  let unknown = false;
  if (view.passed === false) {
    failed = true;
    reasons.push('k6 reported the run as failed (results.passed is false)');
  }
  for (const t of thresholds) {
    if (t.ok === false) {
      failed = true;
      reasons.push(`threshold ${t.metric} ${t.expr} crossed${t.value === null ? '' : ` (${round(t.value)})`}`);
    } else if (t.ok === null) {
      unknown = true;
    }
  }
  for (const g of guards) {
    if (g.ok === false) {
      failed = true;
      reasons.push(`${g.name}: ${g.detail}`);
    } else if (g.ok === null) {
      unknown = true;
      reasons.push(`${g.name}: not known (${g.detail})`);
    }
  }
  const absent = thresholds.filter((t) => t.ok === null);
  if (absent.length > 0) {
    const names = absent.slice(0, 3).map((t) => `${t.metric} ${t.expr}`);
    const more = absent.length > 3 ? ` and ${absent.length - 3} more` : '';
    reasons.push(
      `${absent.length} threshold(s) not in this summary (${view.format} format): ${names.join('; ')}${more}`,
    );
  }
  if (thresholds.length === 0) {
    unknown = true;
    reasons.push('no threshold results at all');
  }
  if (failed) return { verdict: 'FAILED', reasons };
  if (unknown) {
    reasons.push("k6's exit status is the verdict");
    return { verdict: 'UNVERIFIED', reasons };
  }
  return { verdict: 'PASSED', reasons };
}

/** Seconds between the first and last sample of a clock gauge (Date.now() in ms), or null. */
export function measuredSeconds(view: SummaryView, clockGauge: string): number | null {
  const min = stat(view, clockGauge, 'min');
  const max = stat(view, clockGauge, 'max');
  if (min === null || max === null || max <= min) return null;
  return (max - min) / 1000;
}

/** count / seconds, or null when either is unknown. */
export function perSecond(count: number | null, seconds: number | null): number | null {
  return count === null || seconds === null || seconds <= 0 ? null : count / seconds;
}

/** Guard: the measured phase lasted at least `fraction` of the plan (not aborted or interrupted). */
export function completeGuard(measured: number | null, plannedS: number, fraction = 0.9): Guard {
  if (measured === null) return { name: 'measured phase', ok: false, detail: 'no iteration ran' };
  const ok = measured >= plannedS * fraction;
  return {
    name: 'measured phase',
    ok,
    detail: `${measured.toFixed(1)}s of a planned ${plannedS}s${ok ? '' : ' (cut short: aborted or interrupted)'}`,
  };
}

/** Guard: a counter the scripts add to before exec.test.abort() stayed at zero. */
export function abortGuard(view: SummaryView, counter: string): Guard {
  const n = stat(view, counter, 'count');
  if (n === null) return { name: 'run not aborted', ok: null, detail: `${counter} not in the summary` };
  return {
    name: 'run not aborted',
    ok: n === 0,
    detail: n === 0 ? 'no abort' : 'a setup or teardown step aborted the run',
  };
}

export function round(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(4);
}
