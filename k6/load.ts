// Load gate: an open model (constant-arrival-rate). RATE journeys/s arrive for DURATION whether or
// not the service keeps up; one journey is create -> list -> get -> update (If-Match) -> delete,
// 5 requests. Fails (exit 99) when any operation's p95/p99 crosses its limit, when requests fail,
// when arrivals are dropped for lack of a free VU, or when fewer journeys complete than arrived:
// a service that needs twice the time per request falls behind the arrivals and fails on those.
// See k6/README.md for how RATE relates to `bun run bench`.
//
//   BASE_URL=... BETTER_AUTH_SECRET=... RATE=150 DURATION=1m k6 run k6/load.ts
import type { Options } from 'k6/options';
import { CRUD_OPS, durationSeconds, envBool, envNum, envStr, TREND_STATS } from './lib/config.ts';
import type { RunData } from './lib/journey.ts';
import { cleanupRun, seedTasks, startRun, taskJourney } from './lib/journey.ts';
import type { LoadPlan } from './lib/load-plan.ts';
import { LOAD_SCOPE, loadThresholds, loadVerdict } from './lib/load-plan.ts';
import { ABORT_COUNTER, CLOCK_GAUGE, MARKER_THRESHOLDS } from './lib/markers.ts';
import { fmtNum, opRows } from './lib/report.ts';
import { summaryHandler } from './lib/summary.ts';
import { stat } from './lib/summary-data.ts';
import type { DeclaredThresholds } from './lib/verdict.ts';
import { perSecond } from './lib/verdict.ts';

const RATE = envNum('RATE', 60);
const DURATION = envStr('DURATION', '1m');
const DURATION_S = durationSeconds(DURATION);
/** How long a journey may take before the VU pool runs dry: RATE x budget VUs, allocated up front. */
const VU_BUDGET_S = envNum('VU_BUDGET_S', 1);
/** The seed's floor: at least 100 users (one per VU) active at once. */
const VUS = Math.max(envNum('USERS', 100), Math.ceil(RATE * VU_BUDGET_S));
const THINK_TIME = envNum('THINK_TIME', 0);
const SEED_TASKS = envNum('SEED_TASKS', 10);
const CLEANUP = envBool('CLEANUP', true);
const P95_MS = envNum('P95_MS', 100);
const P99_MS = envNum('P99_MS', 250);
const ERROR_RATE = envNum('ERROR_RATE', 0.001);
/** Arrivals that may be dropped (no free VU), as a fraction of the planned RATE x DURATION. */
const DROP_RATE = envNum('DROP_RATE', 0.001);

const PLAN: LoadPlan = {
  rate: RATE,
  durationS: DURATION_S,
  p95Ms: P95_MS,
  p99Ms: P99_MS,
  errorRate: ERROR_RATE,
  dropRate: DROP_RATE,
  ops: CRUD_OPS,
};
const thresholds: DeclaredThresholds = loadThresholds(PLAN, MARKER_THRESHOLDS);

export const options: Options = {
  scenarios: {
    load: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: VUS,
      maxVUs: VUS,
      gracefulStop: '10s',
    },
  },
  thresholds,
  summaryTrendStats: TREND_STATS,
  setupTimeout: '5m',
  teardownTimeout: '5m',
};

export function setup(): RunData {
  const run = startRun();
  seedTasks(run, VUS, SEED_TASKS);
  return run;
}

export default function (run: RunData): void {
  taskJourney(run, THINK_TIME);
}

export function teardown(run: RunData): void {
  if (CLEANUP) cleanupRun(run, VUS);
}

export const handleSummary = summaryHandler('load', (view, resolved) => {
  // The verdict checks the thresholds k6 actually ran with (CLI overrides included).
  const declared = (resolved as { thresholds?: DeclaredThresholds } | null)?.thresholds ?? thresholds;
  const { decision, results, measured } = loadVerdict(view, declared, DURATION_S, {
    abort: ABORT_COUNTER,
    clock: CLOCK_GAUGE,
  });
  const journeys = stat(view, `iterations{${LOAD_SCOPE}}`, 'count');
  const requests = stat(view, `http_reqs{${LOAD_SCOPE}}`, 'count');
  const dropped = stat(view, `dropped_iterations{${LOAD_SCOPE}}`, 'count');
  const rates = {
    measured_s: measured,
    journeys,
    dropped,
    journeys_per_s: perSecond(journeys, measured),
    requests_per_s: perSecond(requests, measured),
  };
  return {
    decision,
    thresholds: results,
    ops: opRows(view, CRUD_OPS, LOAD_SCOPE),
    lines: [
      `plan: ${RATE} journeys/s (${RATE * 5} req/s) for ${DURATION}, ${VUS} VUs allocated up front, ` +
        `limits p95 < ${P95_MS}ms, p99 < ${P99_MS}ms per operation, errors < ${ERROR_RATE * 100}%`,
      `measured phase: ${fmtNum(measured)}s, ${journeys ?? 'n/a'} journeys (${fmtNum(rates.journeys_per_s)}/s), ` +
        `${fmtNum(rates.requests_per_s)} req/s, ${dropped ?? 'n/a'} dropped arrivals`,
    ],
    json: { plan: { rate: RATE, duration_s: DURATION_S, vus: VUS, p95_ms: P95_MS, p99_ms: P99_MS }, rates },
  };
});
