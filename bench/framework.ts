// `bun run bench:framework [--requests 30000] [--rounds 8] [--only get,list,create,update,delete] [--baseline <git ref>]... [--database <admin url>]`
// `bun run bench:framework --instructions [--requests 3000] [--windows 10] [--warm 12000] [--only ...] [--baseline <git ref>]...`
// What the framework and the service's own code cost per request, without the database and without
// HTTP: the service's whole app (createApp, every hook and plugin, the guard, the deadline tracking,
// drizzle's handle, the repository) and the bare server's routes (bench/bare.ts), both called in this
// process through their handlers, over a stand-in for the driver that answers every statement at once
// with rows shaped as PostgreSQL's. A measuring instrument, not a test: it isolates what `bun run bench`
// cannot resolve on a busy machine (a few microseconds among the driver's and PostgreSQL's hundred),
// and says nothing about the driver, the database or the socket.
// --database runs the same with the real driver against a fresh database made on that server (migrated,
// 100 users x 20 tasks seeded through the service, a pool of tasks to delete; dropped at the end): still
// no HTTP, but the driver and its socket as the service drives them, against the bare routes on
// postgres.js as bench/bare.ts drives it (BARE_DRIVER=postgres).
// Each round runs every target once over the same requests (100 in flight, random users and tasks),
// alternating the order; CPU time (user + system) of this process per request, the median of the
// rounds, less what building the requests alone costs (the `requests alone` column).
// --instructions counts instructions instead of CPU time, under valgrind's callgrind (stand-in driver
// only): each target and scenario in its own process, --warm requests first (so the JIT has tiered up),
// then --windows windows of --requests requests, counted apart; the least window per request is the
// figure (a window that holds a full garbage collection counts 10-30% more). Repeatable to a few
// hundred instructions per request whatever else the machine does, where CPU time moves by thousands.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { parseArgs } from "node:util";
import { plugin } from "bun";
import postgres from "postgres";
import { CALLGRIND_ENV, callgrindControl, requireValgrind, underCallgrind, windowTotals } from "./callgrind";
import { makeUsers, seedDeletePool } from "./seed";
import { checkout } from "./server";

const ROOT = `${import.meta.dir}/..`;
const SCENARIOS = ["get", "list", "create", "update", "delete"];
const { values: args } = parseArgs({
  options: {
    requests: { type: "string" },
    rounds: { type: "string", default: "8" },
    only: { type: "string", default: SCENARIOS.join(",") },
    baseline: { type: "string", multiple: true, default: [] },
    database: { type: "string" },
    instructions: { type: "boolean", default: false },
    windows: { type: "string", default: "10" },
    warm: { type: "string", default: "12000" },
    // Internal: the one target a process under callgrind runs (--instructions starts them).
    target: { type: "string" },
  },
});
const REQUESTS = Number(args.requests ?? (args.instructions ? 3000 : 30000));
const ROUNDS = Number(args.rounds);
const IN_FLIGHT = 100;
if (args.instructions) {
  if (args.database) throw new Error("--instructions runs on the driver's stand-in only; leave out --database");
  await countInstructions();
  process.exit(0);
}
const SECRET = "framework-bench-secret-that-is-long-enough";
process.env.BETTER_AUTH_SECRET = SECRET; // bench/bare.ts reads its key from the environment
const DB_NAME = `tasks_framework_${process.pid}`;
const admin = args.database ? postgres(args.database, { max: 1, onnotice: () => {} }) : undefined;
const DB_URL = args.database
  ? Object.assign(new URL(args.database), { pathname: `/${DB_NAME}` }).toString()
  : "postgres://bench@127.0.0.1:5432/bench";
if (admin) await admin.unsafe(`create database "${DB_NAME}"`);

// The driver's stand-in. Every statement answers one task row (a list: 21 rows with the list's `key`
// and `total`), as postgres.js gives them to the service: bigints and timestamps as PostgreSQL's text.
let nextVersion = 1;
const taskRow = (id: string) => ({
  id,
  title: "Write the quarterly report",
  description: "Numbers from the finance sheet, two pages",
  status: "in_progress",
  user_id: "bench-user-1",
  version: String(nextVersion++),
  created_at: "2026-12-03 09:14:07.123456+00",
  updated_at: "2026-12-03 11:52:44.654321+00",
  recorded: null,
});
const LIST_ROWS = Array.from({ length: 21 }, (_, i) => ({
  ...taskRow(String(1000 + i)),
  key: `2026-12-03T09:14:${String(i).padStart(2, "0")}.123456Z`,
  total: "20",
}));
function rowsFor(text: string, params: unknown[]): unknown[] {
  if (text.includes(' as "key"')) return LIST_ROWS;
  const id = params.find((p) => typeof p === "number" || (typeof p === "string" && /^[0-9]+$/.test(p)));
  return [taskRow(String(id ?? 1))];
}
type Query = Promise<unknown[]> & { cancel(): void; values(): Promise<unknown[]> };
function query(rows: unknown[]): Query {
  return Object.assign(Promise.resolve(rows), { cancel() {}, values: () => Promise.resolve(rows) });
}
function fakePostgres(options: Record<string, unknown> = {}) {
  const sql = {
    options: { ...options, parsers: {}, serializers: {} },
    unsafe: (text: string, params: unknown[] = []) => query(rowsFor(text, params)),
    begin: async (...args: unknown[]) => (args.pop() as (tx: unknown) => unknown)(sql),
    end: async () => {},
  };
  return sql;
}
// Without --database, every `import postgres from "postgres"` from here on, the service's and the baseline's, gets it.
if (!args.database)
  plugin({
    name: "postgres stand-in",
    setup(build) {
      build.module("postgres", () => ({ exports: { default: fakePostgres }, loader: "object" }));
    },
  });

type Handle = (request: Request) => Promise<Response>;

async function serviceFrom(dir: string): Promise<Handle> {
  const { createApp } = await import(`${dir}/src/app.ts`);
  const { loadConfig } = await import(`${dir}/src/config.ts`);
  const { openDatabase } = await import(`${dir}/src/db/client.ts`);
  const { verifierFromConfig } = await import(`${dir}/src/auth/from-config.ts`);
  const { cachedVerifier } = await import(`${dir}/src/auth/cache.ts`);
  const { createLogger } = await import(`${dir}/src/logger.ts`);
  // As `bun run bench` starts it: production, fair share off, the log line built and dropped.
  const config = loadConfig({
    NODE_ENV: "production",
    DATABASE_URL: DB_URL,
    BETTER_AUTH_SECRET: SECRET,
    RATE_LIMIT_PER_MINUTE: "0",
    USER_CONCURRENCY: "0",
    MAX_TASKS_PER_USER: "0",
  });
  const logger = createLogger({ level: "info" }, () => {});
  const database = await openDatabase(config.database, config.databaseLimits);
  if (args.database) await database.migrate();
  const verifier = cachedVerifier(verifierFromConfig(config.auth, logger));
  const app = createApp({ config, database, verifier, logger });
  return (request) => app.handle(request);
}

async function bare(): Promise<Handle> {
  const { bareRoutes, barePostgres, notFound404 } = await import("./bare");
  const standIn = { unsafe: async (text: string, params: unknown[]) => rowsFor(text, params), close: async () => {} };
  const sql = args.database ? barePostgres(DB_URL, 10) : standIn;
  const routes = bareRoutes(sql, () => {}) as unknown as Record<
    string,
    Record<string, (request: Request & { params: Record<string, string> }) => Promise<Response>>
  >;
  // Bun.serve's router, by hand: the two paths the bench asks for.
  return (request) => {
    const path = request.url.slice(request.url.indexOf("/", 8), request.url.indexOf("?") >>> 0);
    const withParams = request as Request & { params: Record<string, string> };
    if (path === "/api/tasks") withParams.params = {};
    else if (path.startsWith("/api/tasks/")) withParams.params = { id: path.slice("/api/tasks/".length) };
    else return Promise.resolve(notFound404(request));
    const methods = routes[path === "/api/tasks" ? "/api/tasks" : "/api/tasks/:id"]!;
    const handler = methods[request.method];
    return handler ? handler(withParams) : Promise.resolve(notFound404(request));
  };
}

// What building a request and reading its answer cost alone.
const requestsOnly: Handle = async (request) => {
  await request.arrayBuffer();
  return new Response("{}");
};

const users = await makeUsers(SECRET, 100);
let seq = 0;
// With --database: each user's own tasks, and the next task of theirs to delete.
const deleteNext: number[] = [];
const DELETE_POOL = 4000;
function requestFor(scenario: string): Request {
  const u = (Math.random() * 100) | 0;
  const headers: Record<string, string> = { authorization: `Bearer ${users[u]!.token}` };
  const own = users[u]!.ids;
  const id = !args.database
    ? 1 + ((Math.random() * 2000) | 0)
    : scenario === "delete"
      ? deleteNext[u]!++
      : own[(Math.random() * own.length) | 0]!;
  const json = (method: string, path: string, body: unknown) =>
    new Request(`http://127.0.0.1${path}`, {
      method,
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  switch (scenario) {
    case "get":
      return new Request(`http://127.0.0.1/api/tasks/${id}`, { headers });
    case "list":
      return new Request("http://127.0.0.1/api/tasks?limit=20", { headers });
    case "create":
      return json("POST", "/api/tasks", { title: `Task ${seq++}`, description: "Made by the framework bench" });
    case "update":
      return json("PUT", `/api/tasks/${id}`, { title: `Renamed ${seq++}`, status: "completed" });
    default:
      return new Request(`http://127.0.0.1/api/tasks/${id}`, { method: "DELETE", headers });
  }
}

async function round(handle: Handle, scenario: string, requests = REQUESTS): Promise<number> {
  let left = requests;
  let failures = 0;
  const before = process.cpuUsage();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (left-- > 0) {
        const response = await handle(requestFor(scenario));
        if (!response.ok) failures++;
        await response.arrayBuffer();
      }
    }),
  );
  const used = process.cpuUsage(before);
  if (failures > 0) throw new Error(`${scenario}: ${failures} answers outside 2xx`);
  return (used.user + used.system) / requests;
}

if (args.target) await countedRun();
const targets: { label: string; handle: Handle }[] = [{ label: "service", handle: await serviceFrom(ROOT) }];
if (admin) await seed(targets[0]!.handle);
const baselineDirs: string[] = [];
for (const ref of args.baseline!) {
  const dir = mkdtempSync(`${tmpdir()}/tasks-framework-`);
  baselineDirs.push(dir);
  await checkout(ref, dir);
  targets.push({ label: `@${ref}`, handle: await serviceFrom(dir) });
}
targets.push({ label: "bare", handle: await bare() }, { label: "requests", handle: requestsOnly });

/** The fresh database's data: 20 tasks per user through the service, then the pool DELETE walks. */
async function seed(handle: Handle) {
  for (const user of users)
    for (let i = 0; i < 20; i++) {
      const response = await handle(
        new Request("http://127.0.0.1/api/tasks", {
          method: "POST",
          headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
          body: JSON.stringify({ title: `task ${i} of ${user.userId}`, description: i % 2 ? null : "seeded" }),
        }),
      );
      if (response.status !== 201) throw new Error(`seeding answered ${response.status}: ${await response.text()}`);
      user.ids.push(((await response.json()) as { id: number }).id);
    }
  const sql = postgres(DB_URL, { max: 1, onnotice: () => {} });
  await seedDeletePool(sql, users, DELETE_POOL);
  deleteNext.push(...users.map((user) => user.delLo));
  await sql.end();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const lines = [
  `${REQUESTS} requests per round, ${ROUNDS} rounds, ${IN_FLIGHT} in flight; CPU µs per request beyond building it (median of rounds; min-max in brackets)`,
  "",
  `| scenario | ${targets
    .slice(0, -1)
    .map((t) => t.label)
    .join(" | ")} | ${targets
    .slice(0, -2)
    .map((t) => `${t.label} / bare`)
    .join(" | ")} | requests alone |`,
  `| --- |${" ---: |".repeat(targets.length * 2 - 2)}`,
];
for (const scenario of args.only!.split(",").filter((s) => SCENARIOS.includes(s))) {
  // Each round deletes REQUESTS tasks per target, spread over the users at random: keep well inside the pool.
  if (scenario === "delete" && admin && (ROUNDS + 1) * targets.length * REQUESTS > 0.8 * 100 * DELETE_POOL)
    throw new Error(`--database: delete needs (rounds + 1) x targets x requests below ${0.8 * 100 * DELETE_POOL}`);
  const runs = targets.map(() => [] as number[]);
  for (const t of targets) await round(t.handle, scenario); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? [...targets.keys()] : [...targets.keys()].reverse();
    for (const i of order) runs[i]!.push(await round(targets[i]!.handle, scenario));
    Bun.gc(true);
  }
  const alone = median(runs.at(-1)!);
  const net = runs.slice(0, -1).map((xs) => xs.map((x) => x - alone));
  const bareNet = median(net.at(-1)!);
  const cell = (xs: number[]) =>
    `${median(xs).toFixed(1)} [${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}]`;
  lines.push(
    `| ${scenario} | ${net.map(cell).join(" | ")} | ${net
      .slice(0, -1)
      .map((xs) => `${(median(xs) / bareNet).toFixed(2)}x`)
      .join(" | ")} | ${alone.toFixed(1)} |`,
  );
  console.error(`${scenario} done`);
}
console.log(lines.join("\n"));
for (const dir of baselineDirs) rmSync(dir, { recursive: true, force: true });
if (admin) await admin.unsafe(`drop database if exists "${DB_NAME}" with (force)`);
process.exit(0);

/** As a child under callgrind: one target, one scenario; the counter toggled around each window. */
async function countedRun(): Promise<never> {
  const label = args.target!;
  let handle: Handle;
  let dir: string | undefined;
  if (label === "service") handle = await serviceFrom(ROOT);
  else if (label === "bare") handle = await bare();
  else if (label === "requests") handle = requestsOnly;
  else {
    dir = mkdtempSync(`${tmpdir()}/tasks-framework-`);
    await checkout(label.slice(1), dir);
    handle = await serviceFrom(dir);
  }
  const scenario = args.only!;
  await round(handle, scenario, Number(args.warm));
  for (let w = 0; w < Number(args.windows); w++) {
    Bun.gc(true);
    callgrindControl("-i=on", process.pid);
    await round(handle, scenario);
    callgrindControl("-i=off", process.pid);
    callgrindControl("-d", process.pid); // one dump per window
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

/** --instructions: each target and scenario under callgrind, two at a time; a table of instructions per request. */
async function countInstructions() {
  requireValgrind("--instructions");
  const labels = ["service", ...args.baseline!.map((ref) => `@${ref}`), "bare", "requests"];
  const scenarios = args.only!.split(",").filter((s) => SCENARIOS.includes(s));
  const jobs = scenarios.flatMap((scenario) => labels.map((label) => ({ scenario, label })));
  const counts = new Map<string, number[]>();
  const count = async ({ scenario, label }: { scenario: string; label: string }) => {
    const dir = mkdtempSync(`${tmpdir()}/tasks-instructions-`);
    const child = Bun.spawn(
      underCallgrind(dir, [
        process.execPath,
        import.meta.path,
        ...["--target", label, "--only", scenario, "--requests", String(REQUESTS)],
        ...["--warm", args.warm!, "--windows", args.windows!],
      ]),
      { env: { ...process.env, ...CALLGRIND_ENV }, stderr: "pipe" },
    );
    if ((await child.exited) !== 0) throw new Error(`${label} ${scenario}: ${await new Response(child.stderr).text()}`);
    const windows = windowTotals(dir, `${label} ${scenario}`).map((total) => total / REQUESTS);
    rmSync(dir, { recursive: true, force: true });
    counts.set(`${label} ${scenario}`, windows);
    console.error(`${label} ${scenario}: least ${Math.min(...windows).toFixed(0)} instructions per request`);
  };
  const queue = [...jobs];
  await Promise.all(
    [0, 1].map(async () => {
      for (let job = queue.shift(); job; job = queue.shift()) await count(job);
    }),
  );
  const least = (label: string, scenario: string) => Math.min(...counts.get(`${label} ${scenario}`)!);
  const shown = labels.slice(0, -1);
  const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
  const lines = [
    `${REQUESTS} requests per window, ${args.windows} windows after ${args.warm} to warm up, ${IN_FLIGHT} in flight; instructions per request beyond building it (least window)`,
    "",
    `| scenario | ${shown.join(" | ")} | ${shown
      .slice(0, -1)
      .map((l) => `${l} / bare`)
      .join(" | ")} | requests alone |`,
    `| --- |${" ---: |".repeat(shown.length * 2)}`,
  ];
  for (const scenario of scenarios) {
    const alone = least("requests", scenario);
    const net = shown.map((label) => least(label, scenario) - alone);
    const bareNet = net.at(-1)!;
    lines.push(
      `| ${scenario} | ${net.map(k).join(" | ")} | ${net
        .slice(0, -1)
        .map((n) => `${(n / bareNet).toFixed(2)}x`)
        .join(" | ")} | ${k(alone)} |`,
    );
  }
  console.log(lines.join("\n"));
}
