// Stress test: an open-model ramp (ramping-arrival-rate) of the same journey,
// from START_RATE to MAX_RATE journeys/s over RAMP_DURATION, then HOLD_DURATION
// at MAX_RATE. One journey = 5 requests. Thresholds with abortOnFail stop the
// run once the service degrades (p95 above ABORT_P95_MS or error rate above
// ABORT_ERROR_RATE, overall or for any op); the summary reports how far the
// ramp got. Exit code 99 here means "degradation point found", 0 means the
// service held MAX_RATE.
//
//   BASE_URL=... BETTER_AUTH_SECRET=... MAX_RATE=300 k6 run k6/stress.ts
import { Gauge, Trend } from 'k6/metrics';
import exec from 'k6/execution';
import type { Options, Threshold } from 'k6/options';
import { CRUD_OPS, TREND_STATS, durationSeconds, envBool, envNum, envStr, perOpThresholds } from './lib/config.ts';
import { cleanupRun, seedTasks, startRun, taskJourney } from './lib/journey.ts';
import type { RunData } from './lib/journey.ts';
import { fmtMs, summaryHandler } from './lib/summary.ts';
import type { Digest, Metrics, SummaryData } from './lib/summary.ts';

const START_RATE = envNum('START_RATE', 5);
const MAX_RATE = envNum('MAX_RATE', 200);
const RAMP_DURATION = envStr('RAMP_DURATION', '5m');
const HOLD_DURATION = envStr('HOLD_DURATION', '1m');
const MAX_VUS = envNum('MAX_VUS', 500);
// k6 rejects preAllocatedVUs > maxVUs.
const PRE_VUS = Math.min(envNum('PRE_VUS', 50), MAX_VUS);
const THINK_TIME = envNum('THINK_TIME', 0);
const SEED_TASKS = envNum('SEED_TASKS', 0);
const CLEANUP = envBool('CLEANUP', true);
const ABORT_P95_MS = envNum('ABORT_P95_MS', 500);
const ABORT_ERROR_RATE = envNum('ABORT_ERROR_RATE', 0.05);
/** Let the ramp gather data before a threshold may abort the run. */
const ABORT_DELAY = envStr('ABORT_DELAY', '30s');
const REQUESTS_PER_JOURNEY = 5;

const RAMP_S = durationSeconds(RAMP_DURATION);
const HOLD_S = durationSeconds(HOLD_DURATION);

// Scheduled arrival rate when each journey started (max = how far the ramp got).
const targetRate = new Gauge('stress_target_rate');
// Scheduled rate at which journeys degraded: a failed check, or a request
// slower than ABORT_P95_MS. Its min/median locate the onset better than the
// abort time, because k6 evaluates thresholds over all data since the start.
const degradedAt = new Trend('stress_degraded_at_rate');

const abort = (threshold: string): Threshold => ({ threshold, abortOnFail: true, delayAbortEval: ABORT_DELAY });

export const options: Options = {
  scenarios: {
    stress: {
      executor: 'ramping-arrival-rate',
      startRate: START_RATE,
      timeUnit: '1s',
      preAllocatedVUs: PRE_VUS,
      maxVUs: MAX_VUS,
      stages: [
        { target: MAX_RATE, duration: RAMP_DURATION },
        { target: MAX_RATE, duration: HOLD_DURATION },
      ],
      gracefulStop: '30s',
    },
  },
  thresholds: {
    http_req_duration: [abort(`p(95)<${ABORT_P95_MS}`)],
    http_req_failed: [abort(`rate<${ABORT_ERROR_RATE}`)],
    checks: [`rate>${1 - ABORT_ERROR_RATE}`],
    ...perOpThresholds(CRUD_OPS, {
      http_req_duration: [abort(`p(95)<${ABORT_P95_MS}`)],
      http_req_failed: [abort(`rate<${ABORT_ERROR_RATE}`)],
    }),
  },
  summaryTrendStats: TREND_STATS,
  setupTimeout: '5m',
  teardownTimeout: '5m',
};

/** The executor's schedule: linear from START_RATE to MAX_RATE, then flat. */
function scheduledRate(elapsedS: number): number {
  if (RAMP_S <= 0 || elapsedS >= RAMP_S) return MAX_RATE;
  return START_RATE + ((MAX_RATE - START_RATE) * Math.max(elapsedS, 0)) / RAMP_S;
}

export function setup(): RunData {
  const run = startRun();
  seedTasks(run, MAX_VUS, SEED_TASKS);
  return run;
}

export default function (run: RunData): void {
  const rate = scheduledRate((Date.now() - exec.scenario.startTime) / 1000);
  targetRate.add(rate);
  const result = taskJourney(run, THINK_TIME);
  if (!result.ok || result.slowestMs > ABORT_P95_MS) degradedAt.add(rate);
}

export function teardown(run: RunData): void {
  if (CLEANUP) cleanupRun(run, MAX_VUS);
}

function verdict(d: Digest, crossed: boolean): string {
  const planned = RAMP_S + HOLD_S;
  const early = d.duration_s !== null && d.duration_s < planned;
  const ran = `~${d.duration_s === null ? 'n/a' : d.duration_s.toFixed(0)}s of a planned ${planned}s`;
  if (crossed && early) return `stopped early after ${ran}: thresholds crossed (abortOnFail)`;
  if (crossed) return 'ran the whole plan, but thresholds failed';
  if (early) return `ended after ${ran} without crossing a threshold (interrupted?)`;
  return `held the whole plan without crossing a threshold (p95 < ${ABORT_P95_MS}ms, errors < ${ABORT_ERROR_RATE * 100}%)`;
}

function report(m: Metrics, d: Digest): Record<string, unknown> {
  const planned = RAMP_S + HOLD_S;
  const crossed = d.thresholds.filter((t) => !t.ok).map((t) => `${t.metric} ${t.threshold}`);
  return {
    plan: {
      executor: 'ramping-arrival-rate',
      start_rate: START_RATE,
      max_rate: MAX_RATE,
      ramp_s: RAMP_S,
      hold_s: HOLD_S,
      requests_per_journey: REQUESTS_PER_JOURNEY,
      max_vus: MAX_VUS,
    },
    // testRunDurationMs covers setup and teardown too, so this is approximate.
    stopped_early: d.duration_s !== null && crossed.length > 0 && d.duration_s < planned,
    highest_scheduled_rate: m.value('stress_target_rate', 'max'),
    achieved_journeys_per_s: m.value('iterations', 'rate'),
    achieved_requests_per_s: m.value('http_reqs', 'rate'),
    journeys: m.value('iterations', 'count'),
    dropped_journeys: m.value('dropped_iterations', 'count') ?? 0,
    peak_vus_active: m.value('vus', 'max'),
    peak_vus_allocated: m.value('vus_max', 'max'),
    degraded_journeys: m.value('stress_degraded_at_rate', 'count') ?? 0,
    degraded_from_rate: m.value('stress_degraded_at_rate', 'min'),
    degraded_median_rate: m.value('stress_degraded_at_rate', 'med'),
    thresholds_crossed: crossed,
  };
}

const summarize = summaryHandler('stress', CRUD_OPS, {
  json: (m, d) => report(m, d),
  text: (m, d) => {
    const r = report(m, d);
    const n = (v: unknown, digits = 1): string => (typeof v === 'number' ? v.toFixed(digits) : 'n/a');
    const top = r['highest_scheduled_rate'];
    const crossed = r['thresholds_crossed'] as string[];
    return [
      `plan: ${START_RATE} -> ${MAX_RATE} journeys/s over ${RAMP_DURATION}, hold ${HOLD_DURATION} ` +
        `(${REQUESTS_PER_JOURNEY} requests/journey), VUs ${PRE_VUS}..${MAX_VUS}`,
      verdict(d, crossed.length > 0),
      `highest scheduled rate reached: ${n(top)} journeys/s (~${typeof top === 'number' ? (top * REQUESTS_PER_JOURNEY).toFixed(0) : 'n/a'} req/s)`,
      `achieved on average: ${n(r['achieved_journeys_per_s'])} journeys/s, ${n(r['achieved_requests_per_s'])} req/s, ` +
        `${n(r['journeys'], 0)} journeys, ${n(r['dropped_journeys'], 0)} dropped (no free VU)`,
      `VUs: peak active ${n(r['peak_vus_active'], 0)}, peak allocated ${n(r['peak_vus_allocated'], 0)} of ${MAX_VUS}`,
      `degraded journeys (failed check or a request > ${fmtMs(ABORT_P95_MS)}): ${n(r['degraded_journeys'], 0)}, ` +
        `lowest scheduled rate with one: ${n(r['degraded_from_rate'])} journeys/s, median: ${n(r['degraded_median_rate'])}`,
      `thresholds crossed: ${crossed.length > 0 ? crossed.join('; ') : 'none'}`,
      'note: k6 evaluates thresholds over all samples since the start, so an abort lags the onset;',
      '      run with --out csv=k6/results/stress.csv for the per-second time series.',
    ];
  },
});

export function handleSummary(data: SummaryData): Record<string, string> {
  return summarize(data);
}
