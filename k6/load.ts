// Load test: VUS virtual users (default 100) for DURATION (default 1m), each
// looping the journey create -> list -> get -> update -> delete with THINK_TIME
// seconds (default 0.5, jittered +-50%) between steps. Fails (exit 99) when a
// threshold below is crossed.
//
//   BASE_URL=... BETTER_AUTH_SECRET=... VUS=100 DURATION=1m k6 run k6/load.ts
import type { Options } from 'k6/options';
import { distinctUsers } from './lib/auth.ts';
import { CRUD_OPS, TREND_STATS, envBool, envNum, envStr, perOpThresholds } from './lib/config.ts';
import { cleanupRun, seedTasks, startRun, taskJourney } from './lib/journey.ts';
import type { RunData } from './lib/journey.ts';
import { summaryHandler } from './lib/summary.ts';
import type { SummaryData } from './lib/summary.ts';

const VUS = envNum('VUS', 100);
const DURATION = envStr('DURATION', '1m');
const THINK_TIME = envNum('THINK_TIME', 0.5);
/** Existing tasks per user before the run, so list reads real pages. */
const SEED_TASKS = envNum('SEED_TASKS', 10);
const CLEANUP = envBool('CLEANUP', true);

// Latency objectives (ms), the same for every CRUD operation. list is held to
// the same p95: it is one indexed, paginated query per user (limit 20).
const P95_MS = envNum('P95_MS', 200);
const P99_MS = envNum('P99_MS', 500);

export const options: Options = {
  scenarios: {
    load: { executor: 'constant-vus', vus: VUS, duration: DURATION, gracefulStop: '30s' },
  },
  thresholds: {
    // Whole run, every request (journey, plus setup's seeding and teardown's cleanup).
    http_req_duration: [`p(95)<${P95_MS}`, `p(99)<${P99_MS}`],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    // Per operation.
    ...perOpThresholds(CRUD_OPS, {
      http_req_duration: [`p(95)<${P95_MS}`, `p(99)<${P99_MS}`],
      http_req_failed: ['rate<0.01'],
    }),
  },
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

const summarize = summaryHandler('load', CRUD_OPS, {
  json: (m) => ({
    config: { vus: VUS, duration: DURATION, think_time_s: THINK_TIME, seed_tasks: SEED_TASKS, users: distinctUsers(VUS) },
    iterations: m.value('iterations', 'count'),
    iterations_per_s: m.value('iterations', 'rate'),
    http_reqs_per_s: m.value('http_reqs', 'rate'),
  }),
  text: (m) => [
    `config: ${VUS} VUs for ${DURATION}, think time ${THINK_TIME}s, ${SEED_TASKS} seeded tasks per user`,
    `throughput: ${fmt(m.value('http_reqs', 'rate'))} req/s, ${fmt(m.value('iterations', 'rate'))} journeys/s ` +
      `(${m.value('iterations', 'count') ?? 'n/a'} journeys)`,
  ],
});

export function handleSummary(data: SummaryData): Record<string, string> {
  return summarize(data);
}

function fmt(v: number | null): string {
  return v === null ? 'n/a' : v.toFixed(1);
}
