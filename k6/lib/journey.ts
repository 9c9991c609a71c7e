// The user journey shared by load.ts and stress.ts, plus the setup/teardown
// work around it (readiness gate, seeding, cleanup).
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import * as api from './api.ts';
import { distinctUsers, newRunId, tokenForVu } from './auth.ts';
import { BASE_URL, jittered } from './config.ts';
import { abortRun, tick } from './markers.ts';

/** What setup() hands to every VU and to teardown(). */
export interface RunData {
  runId: string;
  /** Every task of the run has a title starting with this; cleanup keys on it. */
  titlePrefix: string;
}

/** setup(): fail fast unless the service is ready, then fix the run id. */
export function startRun(): RunData {
  const res = api.ready();
  if (res.status !== 200) {
    abortRun(
      `service not ready: GET ${BASE_URL}/health/ready -> ${res.status} ${res.error || String(res.body).slice(0, 200)}`,
    );
  }
  const runId = newRunId();
  return { runId, titlePrefix: `k6:${runId}:` };
}

/**
 * Gives each user `perUser` existing tasks before the measured phase, so the
 * list route pages through real rows instead of an almost empty table.
 * Runs in setup(), sequentially; requests are tagged op:seed.
 */
export function seedTasks(run: RunData, users: number, perUser: number): void {
  if (perUser <= 0) return;
  for (let u = 1; u <= distinctUsers(users); u++) {
    const token = tokenForVu(u, run.runId);
    for (let i = 0; i < perUser; i++) {
      const res = api.createTask(
        {
          title: `${run.titlePrefix}seed:u${u}:${i}`,
          description: 'seeded by k6',
          status: api.TASK_STATUSES[i % api.TASK_STATUSES.length],
        },
        { token, op: 'seed' },
      );
      if (res.status !== 201) {
        abortRun(`seeding failed: POST /api/tasks -> ${res.status} ${String(res.body).slice(0, 200)}`);
      }
    }
  }
}

const PAGE = 100;
const MAX_PAGES = 50;

/**
 * teardown(): deletes every task of this run (title prefix) for users 1..users.
 * Only the run's own tasks are touched, so it is safe with shared TOKENS.
 * Best effort: requests are tagged op:cleanup.
 */
export function cleanupRun(run: RunData, users: number): void {
  let deleted = 0;
  for (let u = 1; u <= distinctUsers(users); u++) {
    const token = tokenForVu(u, run.runId);
    const ids: string[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = api.listTasks({ limit: PAGE, offset: page * PAGE }, { token, op: 'cleanup' });
      const tasks = res.status === 200 ? api.tasksOf(res) : null;
      if (tasks === null) break;
      for (const t of tasks) if (t.title.startsWith(run.titlePrefix)) ids.push(t.id);
      if (tasks.length < PAGE) break;
    }
    for (const id of ids) {
      if (api.deleteTask(id, { token, op: 'cleanup' }).status === 204) deleted++;
    }
  }
  console.log(`cleanup: deleted ${deleted} task(s) of run ${run.runId}`);
}

export interface JourneyResult {
  /** Every check of the journey passed. */
  ok: boolean;
  /** Slowest request of the journey, in ms. */
  slowestMs: number;
}

/**
 * One user session: create, list, get, update (If-Match), delete, with think
 * time between steps. Returns early once create fails, as a real client would.
 */
export function taskJourney(run: RunData, thinkTime: number): JourneyResult {
  tick();
  const vu = exec.vu.idInTest;
  const token = tokenForVu(vu, run.runId);
  let slowestMs = 0;
  const timed = <R extends { timings: { duration: number } }>(res: R): R => {
    slowestMs = Math.max(slowestMs, res.timings.duration);
    return res;
  };

  const created = timed(
    api.createTask(
      {
        title: `${run.titlePrefix}vu${vu}:it${exec.vu.iterationInScenario}`,
        description: 'created by the k6 journey',
        status: 'pending',
      },
      { token, idempotencyKey: api.newIdempotencyKey() },
    ),
  );
  const task = api.taskOf(created);
  const createdOk = check(
    created,
    {
      'create: 201': (r) => r.status === 201,
      'create: task body': () => task !== null,
      'create: Location header': (r) => task !== null && api.header(r, 'Location') === `/api/tasks/${task.id}`,
    },
    { op: 'create' },
  );
  if (!createdOk || task === null) {
    sleep(jittered(thinkTime));
    tick();
    return { ok: false, slowestMs };
  }

  sleep(jittered(thinkTime));
  const list = timed(api.listTasks({ limit: 20, offset: 0 }, { token }));
  let ok = check(
    list,
    {
      'list: 200': (r) => r.status === 200,
      'list: array of tasks': (r) => api.tasksOf(r) !== null,
      'list: X-Total-Count': (r) => api.totalCount(r) !== null,
    },
    { op: 'list' },
  );

  sleep(jittered(thinkTime));
  const got = timed(api.getTask(task.id, { token }));
  const etag = api.header(got, 'ETag');
  ok =
    check(
      got,
      {
        'get: 200': (r) => r.status === 200,
        'get: same task': (r) => api.taskOf(r)?.id === task.id,
        'get: ETag': () => etag !== undefined && etag !== '',
      },
      { op: 'get' },
    ) && ok;

  sleep(jittered(thinkTime));
  const updated = timed(
    api.updateTask(
      task.id,
      { title: `${task.title}:done`, status: 'completed' },
      { token, ifMatch: etag, idempotencyKey: api.newIdempotencyKey() },
    ),
  );
  ok =
    check(
      updated,
      {
        'update: 200': (r) => r.status === 200,
        'update: applied': (r) => api.taskOf(r)?.status === 'completed',
      },
      { op: 'update' },
    ) && ok;

  sleep(jittered(thinkTime));
  const removed = timed(api.deleteTask(task.id, { token, idempotencyKey: api.newIdempotencyKey() }));
  ok = check(removed, { 'delete: 204': (r) => r.status === 204 }, { op: 'delete' }) && ok;

  sleep(jittered(thinkTime));
  tick();
  return { ok, slowestMs };
}
