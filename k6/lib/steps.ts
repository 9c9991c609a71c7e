// The stress test's windows: one constant-arrival-rate scenario per step, back to back, so every
// sample (dropped_iterations included) carries the step's `scenario` tag and each step is judged
// on its own figures, not on a cumulative p95. Plain ECMAScript, no k6 imports (unit-tested).

import type { SummaryView } from './summary-data.ts';
import { stat } from './summary-data.ts';
import type { DeclaredThresholds } from './verdict.ts';

export interface StepPlan {
  name: string;
  rate: number;
  startS: number;
  durationS: number;
  /** Pre-allocated (= maximum) VUs: all are initialised before the first step starts. */
  vus: number;
}

export interface StepLimits {
  p95Ms: number;
  errorRate: number;
  /** Dropped arrivals / scheduled arrivals a step may have. */
  dropRate: number;
  /** Completed journeys / scheduled journeys a step must reach. */
  achievedRatio: number;
}

/**
 * `vuBudgetS` is how long a journey may take before the step runs out of VUs: rate x budget VUs
 * per step (at least `minVus`). A step is followed by `gapS` of graceful stop before the next.
 */
export function planSteps(rates: number[], stepS: number, gapS: number, vuBudgetS: number, minVus = 10): StepPlan[] {
  return rates.map((rate, i) => ({
    name: `step_${String(i + 1).padStart(2, '0')}`,
    rate,
    startS: i * (stepS + gapS),
    durationS: stepS,
    vus: Math.max(minVus, Math.ceil(rate * vuBudgetS)),
  }));
}

/** "50,100,150" or a geometric series from START to MAX by FACTOR. */
export function stepRates(list: string, start: number, max: number, factor: number): number[] {
  if (list.trim() !== '') {
    const rates = list.split(',').map((s) => Number(s.trim()));
    if (rates.some((r) => !Number.isFinite(r) || r <= 0)) throw new Error(`bad step rates: ${JSON.stringify(list)}`);
    return rates;
  }
  if (!(factor > 1) || !(start > 0) || max < start)
    throw new Error('stress steps need START_RATE > 0, MAX_RATE >= START_RATE, STEP_FACTOR > 1');
  const out: number[] = [];
  for (let r = start; r <= max * 1.0001; r *= factor) out.push(Math.round(r));
  return out;
}

/**
 * One threshold set per step. They exist so k6 keeps the step's sub-metrics; they always hold,
 * because the verdict of a step is computed from the figures (analyzeSteps), and the exit status
 * comes from the gate thresholds the script adds for the floor rate.
 */
export function observeThresholds(plan: StepPlan[], ops: readonly string[]): DeclaredThresholds {
  const out: DeclaredThresholds = {};
  for (const s of plan) {
    const tag = `scenario:${s.name}`;
    out[`http_req_duration{${tag}}`] = ['p(95)>=0'];
    out[`http_req_failed{${tag}}`] = ['rate>=0'];
    out[`iterations{${tag}}`] = ['count>=0'];
    out[`dropped_iterations{${tag}}`] = ['count>=0'];
    for (const op of ops) out[`http_req_duration{${tag},op:${op}}`] = ['p(95)>=0'];
  }
  return out;
}

/** Real thresholds for one step (used as the exit-status gate for the floor rate). */
export function gateThresholds(s: StepPlan, ops: readonly string[], limits: StepLimits): DeclaredThresholds {
  const tag = `scenario:${s.name}`;
  const scheduled = s.rate * s.durationS;
  const out: DeclaredThresholds = {
    [`http_req_duration{${tag}}`]: [`p(95)<${limits.p95Ms}`],
    [`http_req_failed{${tag}}`]: [`rate<${limits.errorRate}`],
    [`iterations{${tag}}`]: [`count>=${Math.floor(scheduled * limits.achievedRatio)}`],
    [`dropped_iterations{${tag}}`]: [`count<=${Math.floor(scheduled * limits.dropRate)}`],
  };
  for (const op of ops) out[`http_req_duration{${tag},op:${op}}`] = [`p(95)<${limits.p95Ms}`];
  return out;
}

export interface StepResult {
  name: string;
  rate: number;
  completed: number | null;
  dropped: number | null;
  p95Ms: number | null;
  worstOp: string | null;
  worstOpP95Ms: number | null;
  errorRate: number | null;
  /** true: every limit held; false: one was crossed; null: a figure is missing. */
  ok: boolean | null;
  problems: string[];
}

export function analyzeSteps(
  view: SummaryView,
  plan: StepPlan[],
  ops: readonly string[],
  limits: StepLimits,
): StepResult[] {
  return plan.map((s) => {
    const tag = `scenario:${s.name}`;
    const scheduled = s.rate * s.durationS;
    const completed = stat(view, `iterations{${tag}}`, 'count');
    const dropped = stat(view, `dropped_iterations{${tag}}`, 'count');
    const p95 = stat(view, `http_req_duration{${tag}}`, 'p(95)');
    const errorRate = stat(view, `http_req_failed{${tag}}`, 'rate');
    let worstOp: string | null = null;
    let worstOpP95: number | null = null;
    let opsKnown = true;
    for (const op of ops) {
      const v = stat(view, `http_req_duration{${tag},op:${op}}`, 'p(95)');
      if (v === null) opsKnown = false;
      else if (worstOpP95 === null || v > worstOpP95) {
        worstOp = op;
        worstOpP95 = v;
      }
    }
    const problems: string[] = [];
    let missing = !opsKnown;
    const need = (v: number | null, bad: (x: number) => boolean, text: (x: number) => string): void => {
      if (v === null) missing = true;
      else if (bad(v)) problems.push(text(v));
    };
    need(
      completed,
      (c) => c < scheduled * limits.achievedRatio,
      (c) => `completed ${c} of ${scheduled} journeys`,
    );
    need(
      dropped,
      (d) => d > scheduled * limits.dropRate,
      (d) => `${d} arrivals dropped (no free VU)`,
    );
    need(
      p95,
      (v) => v >= limits.p95Ms,
      (v) => `p95 ${v.toFixed(1)}ms`,
    );
    need(
      errorRate,
      (v) => v >= limits.errorRate,
      (v) => `errors ${(v * 100).toFixed(2)}%`,
    );
    if (worstOpP95 !== null && worstOpP95 >= limits.p95Ms) problems.push(`${worstOp} p95 ${worstOpP95.toFixed(1)}ms`);
    const ok = problems.length > 0 ? false : missing ? null : true;
    return {
      name: s.name,
      rate: s.rate,
      completed,
      dropped,
      p95Ms: p95,
      worstOp,
      worstOpP95Ms: worstOpP95,
      errorRate,
      ok,
      problems,
    };
  });
}

/** The highest rate of the unbroken run of held steps from the first one; null if the first did not hold. */
export function highestHeld(results: StepResult[]): StepResult | null {
  let held: StepResult | null = null;
  for (const r of results) {
    if (r.ok !== true) break;
    held = r;
  }
  return held;
}
