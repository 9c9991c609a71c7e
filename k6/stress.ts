// Stress: steps of constant arrival rate (open model), each its own scenario and so its own window.
// Every step is judged on its own figures (p95 overall and per operation, errors, dropped arrivals,
// completed journeys), and the report names the highest rate held by every step up to it. All VUs
// are allocated before the first step (pre-allocated = max per step), so a drop means the journeys
// really took longer than VU_BUDGET_S, not that k6 was still adding VUs.
// Exit status: 0 when the step at FLOOR_RATE (default: the lowest step) held, 99 when it did not.
//
//   BASE_URL=... BETTER_AUTH_SECRET=... STEP_RATES=50,100,150,200 STEP_DURATION=10s k6 run k6/stress.ts
import type { Options, Scenario } from 'k6/options';
import { CRUD_OPS, durationSeconds, envBool, envNum, envStr, TREND_STATS } from './lib/config.ts';
import type { RunData } from './lib/journey.ts';
import { cleanupRun, startRun, taskJourney } from './lib/journey.ts';
import { ABORT_COUNTER, MARKER_THRESHOLDS } from './lib/markers.ts';
import { fmtMs, fmtNum, fmtPct, opRows } from './lib/report.ts';
import type { StepLimits } from './lib/steps.ts';
import { analyzeSteps, gateThresholds, highestHeld, observeThresholds, planSteps, stepRates } from './lib/steps.ts';
import { summaryHandler } from './lib/summary.ts';
import type { Guard } from './lib/verdict.ts';
import { abortGuard, decide, evaluateThresholds } from './lib/verdict.ts';

const RATES = stepRates(
  envStr('STEP_RATES', ''),
  envNum('START_RATE', 40),
  envNum('MAX_RATE', 320),
  envNum('STEP_FACTOR', 1.5),
);
const STEP_S = durationSeconds(envStr('STEP_DURATION', '10s'));
const GAP_S = durationSeconds(envStr('STEP_GAP', '2s'));
const VU_BUDGET_S = envNum('VU_BUDGET_S', 1);
const FLOOR_RATE = envNum('FLOOR_RATE', RATES[0] ?? 0);
const CLEANUP = envBool('CLEANUP', true);
const LIMITS: StepLimits = {
  p95Ms: envNum('P95_MS', 200),
  errorRate: envNum('ERROR_RATE', 0.01),
  dropRate: envNum('DROP_RATE', 0.001),
  achievedRatio: envNum('ACHIEVED_RATIO', 0.97),
};

const PLAN = planSteps(RATES, STEP_S, GAP_S, VU_BUDGET_S);
const floorStep = [...PLAN].reverse().find((s) => s.rate <= FLOOR_RATE) ?? PLAN[0];
if (floorStep === undefined) throw new Error('stress: no steps');
const GATE = { ...gateThresholds(floorStep, CRUD_OPS, LIMITS), ...MARKER_THRESHOLDS };

const scenarios: Record<string, Scenario> = {};
for (const s of PLAN) {
  scenarios[s.name] = {
    executor: 'constant-arrival-rate',
    rate: s.rate,
    timeUnit: '1s',
    duration: `${s.durationS}s`,
    startTime: `${s.startS}s`,
    preAllocatedVUs: s.vus,
    maxVUs: s.vus,
    gracefulStop: `${GAP_S}s`,
  };
}

export const options: Options = {
  scenarios,
  thresholds: { ...observeThresholds(PLAN, CRUD_OPS), ...GATE },
  summaryTrendStats: TREND_STATS,
  setupTimeout: '2m',
  teardownTimeout: '5m',
};

export function setup(): RunData {
  return startRun();
}

export default function (run: RunData): void {
  taskJourney(run, 0);
}

export function teardown(run: RunData): void {
  if (CLEANUP) cleanupRun(run, Math.max(...PLAN.map((s) => s.vus)));
}

export const handleSummary = summaryHandler('stress', (view) => {
  const steps = analyzeSteps(view, PLAN, CRUD_OPS, LIMITS);
  const held = highestHeld(steps);
  const broke = steps.find((s) => s.ok !== true);
  const floor = steps.find((s) => s.name === floorStep.name);
  const floorGuard: Guard = {
    name: `floor step ${floorStep.rate} journeys/s`,
    ok: floor?.ok ?? null,
    detail: floor === undefined || floor.problems.length === 0 ? 'held' : floor.problems.join(', '),
  };
  const decision = decide(view, evaluateThresholds(view, GATE), [abortGuard(view, ABORT_COUNTER), floorGuard]);
  const lines = [
    `plan: ${PLAN.length} steps of ${STEP_S}s (${RATES.join(', ')} journeys/s; 5 requests each), ` +
      `VUs per step = rate x ${VU_BUDGET_S}s, limits per step: p95 < ${LIMITS.p95Ms}ms overall and per op, ` +
      `errors < ${LIMITS.errorRate * 100}%, drops <= ${LIMITS.dropRate * 100}%, completed >= ${LIMITS.achievedRatio * 100}%`,
    held === null
      ? 'highest sustained rate: none (the first step did not hold)'
      : `highest sustained rate: ${held.rate} journeys/s (${held.rate * 5} req/s)` +
        (broke === undefined
          ? ', the whole plan held'
          : `; broke at ${broke.rate}: ${broke.problems.join(', ') || 'figures missing'}`),
    '',
    'step        rate  completed  dropped       p95  worst op p95     errors  held',
  ];
  for (const s of steps) {
    lines.push(
      `${s.name.padEnd(8)} ${String(s.rate).padStart(7)} ${fmtNum(s.completed, 0).padStart(10)} ${fmtNum(s.dropped, 0).padStart(8)} ` +
        `${fmtMs(s.p95Ms).padStart(9)} ${`${s.worstOp ?? '-'} ${fmtMs(s.worstOpP95Ms)}`.padStart(16)} ${fmtPct(s.errorRate).padStart(10)}  ` +
        `${s.ok === true ? 'yes' : s.ok === false ? 'NO' : 'n/a'}`,
    );
  }
  return {
    decision,
    thresholds: evaluateThresholds(view, GATE),
    ops: opRows(view, CRUD_OPS, `scenario:${floorStep.name}`).slice(-1),
    lines,
    json: { highest_sustained_rate: held?.rate ?? null, steps, limits: LIMITS },
  };
});
