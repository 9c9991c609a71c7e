// The load gate's thresholds and verdict as plain functions (no k6 modules, no __ENV), so bun test
// can check them against recorded k6 summaries. k6/load.ts reads the environment and calls these.
import type { SummaryView } from './summary-data.ts';
import type { Decision, DeclaredThresholds, ThresholdResult } from './verdict.ts';
import { abortGuard, completeGuard, decide, evaluateThresholds, measuredSeconds } from './verdict.ts';

export const LOAD_SCOPE = 'scenario:load';

export interface LoadPlan {
  /** journeys per second arriving, whether or not the service keeps up */
  rate: number;
  durationS: number;
  p95Ms: number;
  p99Ms: number;
  /** failed requests allowed, as a fraction */
  errorRate: number;
  /** arrivals that may be dropped for lack of a free VU, as a fraction of rate x duration */
  dropRate: number;
  ops: readonly string[];
}

export function plannedJourneys(plan: LoadPlan): number {
  return Math.round(plan.rate * plan.durationS);
}

export function loadThresholds(plan: LoadPlan, markers: DeclaredThresholds): DeclaredThresholds {
  const planned = plannedJourneys(plan);
  const out: DeclaredThresholds = {};
  for (const op of plan.ops) {
    out[`http_req_duration{op:${op}}`] = [`p(95)<${plan.p95Ms}`, `p(99)<${plan.p99Ms}`];
    out[`http_req_failed{op:${op}}`] = [`rate<${plan.errorRate}`];
  }
  return {
    ...out,
    [`http_req_failed{${LOAD_SCOPE}}`]: [`rate<${plan.errorRate}`],
    [`checks{${LOAD_SCOPE}}`]: [`rate>${1 - plan.errorRate}`],
    [`dropped_iterations{${LOAD_SCOPE}}`]: [`count<=${Math.floor(planned * plan.dropRate)}`],
    // Journeys that completed: a service that falls behind leaves arrivals unfinished at the end.
    [`iterations{${LOAD_SCOPE}}`]: [`count>=${Math.floor(planned * 0.99)}`],
    [`http_reqs{${LOAD_SCOPE}}`]: ['count>0'],
    [`http_req_duration{${LOAD_SCOPE}}`]: [`p(95)<${plan.p95Ms}`],
    ...markers,
  };
}

export interface LoadVerdict {
  decision: Decision;
  results: ThresholdResult[];
  measured: number | null;
}

/** The thresholds k6 ran with (declared), the abort marker and the measured phase decide. */
export function loadVerdict(
  view: SummaryView,
  declared: DeclaredThresholds,
  durationS: number,
  markers: { abort: string; clock: string },
): LoadVerdict {
  const results = evaluateThresholds(view, declared);
  const measured = measuredSeconds(view, markers.clock);
  const decision = decide(view, results, [abortGuard(view, markers.abort), completeGuard(measured, durationS)]);
  return { decision, results, measured };
}
