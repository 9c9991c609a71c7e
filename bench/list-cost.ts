// `bun bench/list-cost.ts [--requests 300] [--big 10000] [--small 20] [--baseline <git ref>] [--admin-url postgres://...]`
// Does a list cost the same whatever the user holds? A fresh database, the service (`bun src/index.ts`,
// fair-share limits off), background users, one user with --big tasks and one with --small tasks.
// Every query runs --requests times per user, the two users alternating request by request over one
// keep-alive connection, so both see the same machine; the table gives each user's p50/p95 and the
// ratios. With --baseline, the service of that commit runs too, on the same database (migrated by this
// one), its requests interleaved with these: its ratios are in the same table, from the same run.
// Then EXPLAIN ANALYZE of the service's own statement for the worst ratios.

import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { parseArgs } from "node:util";
import { drizzle } from "drizzle-orm/postgres-js";
import { SignJWT } from "jose";
import postgres from "postgres";
import * as schema from "../src/db/schema";
import { ANCHOR_EVERY } from "../src/tasks/anchors";
import { SORTS, type Sort, type TaskStatus } from "../src/tasks/constants";
import { decodeCursor } from "../src/tasks/cursor";
import { anchorsQuery, type ListMode, listQuery } from "../src/tasks/list";
import { checkout, freePort } from "./server";

const { values: args } = parseArgs({
  options: {
    requests: { type: "string", default: "300" },
    big: { type: "string", default: "10000" },
    small: { type: "string", default: "20" },
    baseline: { type: "string" },
    "admin-url": {
      type: "string",
      default: process.env.BENCH_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    },
  },
});
const REQUESTS = Number(args.requests),
  BIG = Number(args.big),
  SMALL = Number(args.small);
const BACKGROUND_USERS = 300,
  BACKGROUND_TASKS = 20;

const dbName = `tasks_listcost_${process.pid}`;
const admin = postgres(args["admin-url"]!, { max: 1, onnotice: () => {} });
const dbUrl = Object.assign(new URL(args["admin-url"]!), { pathname: `/${dbName}` }).toString();
const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
const log = (msg: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
let service: ReturnType<typeof Bun.spawn> | undefined;
let baseline: ReturnType<typeof Bun.spawn> | undefined;
let sql: postgres.Sql | undefined;
const baselineDir = `${tmpdir()}/tasks-listcost-${process.pid}`;

async function cleanup() {
  for (const s of [service, baseline]) s?.kill("SIGTERM");
  await service?.exited;
  await baseline?.exited;
  rmSync(baselineDir, { recursive: true, force: true });
  await sql?.end();
  await admin.unsafe(`drop database if exists "${dbName}" with (force)`).catch(() => {});
  await admin.end();
}
process.on("SIGINT", () => void cleanup().finally(() => process.exit(130)));

const tokenFor = (sub: string) =>
  new SignJWT({ sub })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setExpirationTime("6h")
    .sign(new TextEncoder().encode(secret));

/** `count` tasks of `userId` with random titles, the three statuses in turn, a second apart. */
async function seedUser(userId: string, count: number) {
  await sql!`
    insert into tasks (title, user_id, status, created_at, updated_at)
    select md5(${userId} || i::text), ${userId}, (array['pending', 'in_progress', 'completed'])[1 + i % 3],
      now() - i * interval '1 second', now() - (i * 7 % ${count}) * interval '1 second'
    from generate_series(1, ${count}) i`;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

interface Query {
  name: string;
  big: string;
  small: string;
  sort: Sort;
  status?: TaskStatus;
  mode: ListMode;
  offset: number;
  bigAfter?: string;
}

/** `bun src/index.ts` of `dir` on a free port, limits off; its base URL once it is ready. */
async function serve(dir: string, migrate: boolean) {
  const port = freePort();
  const proc = Bun.spawn(["bun", `${dir}/src/index.ts`], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: dbUrl,
      BETTER_AUTH_SECRET: secret,
      LOG_LEVEL: "error",
      MIGRATE_ON_START: String(migrate),
      RATE_LIMIT_PER_MINUTE: "0",
      USER_CONCURRENCY: "0",
      MAX_TASKS_PER_USER: "0",
    },
    stdout: "ignore",
    stderr: "inherit",
  });
  const base = `http://127.0.0.1:${port}`;
  for (
    let i = 0;
    !(await fetch(`${base}/health/ready`).then(
      (r) => r.ok,
      () => false,
    ));
    i++
  ) {
    if (i > 300 || proc.exitCode !== null) throw new Error(`the service of ${dir} did not become ready`);
    await Bun.sleep(100);
  }
  return { proc, base };
}

try {
  await admin.unsafe(`create database "${dbName}"`);
  const current = await serve(`${import.meta.dir}/..`, true);
  service = current.proc;
  let baselineBase: string | undefined;
  if (args.baseline) {
    log(`baseline: ${args.baseline}, its own install`);
    await checkout(args.baseline, baselineDir);
    const old = await serve(baselineDir, false);
    baseline = old.proc;
    baselineBase = old.base;
  }
  sql = postgres(dbUrl, { max: 2, onnotice: () => {} });
  log(`seeding: ${BACKGROUND_USERS} users x ${BACKGROUND_TASKS}, one user with ${BIG}, one with ${SMALL}`);
  for (let u = 0; u < BACKGROUND_USERS; u++) await seedUser(`background-${u}`, BACKGROUND_TASKS);
  await seedUser("big", BIG);
  await seedUser("small", SMALL);
  // The counters as the backfill migration computes them (tasks were inserted by SQL, not the API).
  await sql`insert into task_counts (user_id, total, pending, in_progress, completed)
    select user_id, count(*), count(*) filter (where status = 'pending'), count(*) filter (where status = 'in_progress'), count(*) filter (where status = 'completed')
    from tasks group by user_id`;
  await sql`vacuum analyze tasks`;
  await sql`vacuum analyze task_counts`;

  const tokens = { big: await tokenFor("big"), small: await tokenFor("small") };
  const get = async (who: "big" | "small", path: string, base = current.base) => {
    const started = performance.now();
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${tokens[who]}` } });
    const body = await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${new TextDecoder().decode(body)}`);
    return { ms: performance.now() - started, link: res.headers.get("link") };
  };
  const cursorAt = async (who: "big" | "small", sort: Sort, offset: number) => {
    const { link } = await get(who, `/api/tasks?limit=20&sort=${sort}&offset=${offset}`);
    return link!.match(/cursor=([A-Za-z0-9_-]+)/)![1]!;
  };

  const queries: Query[] = [];
  for (const sort of SORTS)
    queries.push({
      name: `sort=${sort}`,
      big: `/api/tasks?limit=20&sort=${sort}`,
      small: `/api/tasks?limit=20&sort=${sort}`,
      sort,
      mode: "first",
      offset: 0,
    });
  for (const sort of ["-created_at", "title"] as const) {
    for (const status of ["pending", "completed"] as const) {
      queries.push({
        name: `status=${status}&sort=${sort}`,
        big: `/api/tasks?limit=20&status=${status}&sort=${sort}`,
        small: `/api/tasks?limit=20&status=${status}&sort=${sort}`,
        sort,
        status,
        mode: "first",
        offset: 0,
      });
    }
  }
  // Deep pages of the big user (by offset and by cursor) against the small user's first page of the same
  // sort and filter: the small user has no page 450, and a page of 20 is the work being compared
  // (stricter than the same URL, which is an empty page for the small user; one row of each shows both).
  const deep = Math.floor(BIG * 0.9);
  // An offset just below the middle is the longest walk (past the middle the list is read from its other end).
  const middle = Math.floor(BIG / 2) - 1;
  for (const [sort, offset] of [
    ["-created_at", deep],
    ["-title", deep],
    ["updated_at", deep],
    ["-created_at", middle],
    ["-title", middle],
  ] as const) {
    const url = `/api/tasks?limit=20&offset=${offset}&sort=${sort}`;
    queries.push({
      name: `offset=${offset}&sort=${sort}`,
      big: url,
      small: `/api/tasks?limit=20&sort=${sort}`,
      sort,
      mode: "offset",
      offset,
    });
    // The contract's literal reading: the same request for both users (an empty page for the small one).
    if (offset === middle)
      queries.push({
        name: `offset=${offset}&sort=${sort}, same URL for both`,
        big: url,
        small: url,
        sort,
        mode: "offset",
        offset,
      });
  }
  const completedMiddle = Math.floor(BIG / 6) - 1;
  queries.push({
    name: `status=completed&offset=${completedMiddle}&sort=-title`,
    big: `/api/tasks?limit=20&status=completed&offset=${completedMiddle}&sort=-title`,
    small: `/api/tasks?limit=20&status=completed&sort=-title`,
    sort: "-title",
    status: "completed",
    mode: "offset",
    offset: completedMiddle,
  });
  for (const sort of SORTS) {
    const cursor = await cursorAt("big", sort, deep);
    queries.push({
      name: `cursor after ${deep + 20}, sort=${sort}`,
      big: `/api/tasks?limit=20&sort=${sort}&cursor=${cursor}`,
      small: `/api/tasks?limit=20&sort=${sort}`,
      sort,
      mode: "after",
      offset: 0,
      bigAfter: cursor,
    });
  }

  log(`${queries.length} queries x ${REQUESTS} requests per user${baselineBase ? " and service" : ""}, alternating`);
  const targets = baselineBase ? [current.base, baselineBase] : [current.base];
  for (const q of queries)
    for (const base of targets)
      for (let i = 0; i < 30; i++) {
        await get("big", q.big, base);
        await get("small", q.small, base);
      }
  type Times = { big: number[]; small: number[] };
  const rows: { q: Query; big: number[]; small: number[]; old?: Times }[] = [];
  for (const q of queries) {
    const times = targets.map((): Times => ({ big: [], small: [] }));
    for (let i = 0; i < REQUESTS; i++) {
      // Alternate which goes first, so neither always meets a warmer or colder machine.
      for (const t of i % 2 ? [0, 1] : [1, 0]) {
        const base = targets[t];
        if (!base) continue;
        const into = times[t]!;
        for (const who of i % 4 < 2 ? (["big", "small"] as const) : (["small", "big"] as const))
          into[who].push((await get(who, q[who], base)).ms);
      }
    }
    const sorted = (t: Times) => ({ big: t.big.sort((a, b) => a - b), small: t.small.sort((a, b) => a - b) });
    rows.push({ q, ...sorted(times[0]!), old: times[1] && sorted(times[1]) });
  }

  const f = (n: number) => n.toFixed(2);
  console.log(
    `\nGET /api/tasks?limit=20, ${REQUESTS} requests each; ms; ratio = p95 of the ${BIG}-task user / p95 of the ${SMALL}-task user\n`,
  );
  // The p50 ratio too: on a busy machine the p95s are mostly the machine's noise, and the p50s show
  // what the work itself costs.
  const old = baselineBase ? ` | ${args.baseline}: p95 ratio | p50 ratio` : "";
  console.log(`| query | ${SMALL} tasks p50 | p95 | ${BIG} tasks p50 | p95 | p95 ratio | p50 ratio${old} |`);
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: | ---:${baselineBase ? " | ---: | ---:" : ""} |`);
  for (const r of rows) {
    const ratio = (t: Times, q: number) => `${(quantile(t.big, q) / quantile(t.small, q)).toFixed(2)}x`;
    console.log(
      `| ${r.q.name} | ${f(quantile(r.small, 0.5))} | ${f(quantile(r.small, 0.95))} | ${f(quantile(r.big, 0.5))} | ${f(quantile(r.big, 0.95))} | ${ratio(r, 0.95)} | ${ratio(r, 0.5)}${r.old ? ` | ${ratio(r.old, 0.95)} | ${ratio(r.old, 0.5)}` : ""} |`,
    );
  }

  // The service's statement for the three worst ratios, explained with the big user's parameters.
  const db = drizzle(sql, { schema });
  const worst = [...rows]
    .sort((a, b) => quantile(b.big, 0.95) / quantile(b.small, 0.95) - quantile(a.big, 0.95) / quantile(a.small, 0.95))
    .slice(0, 3);
  for (const { q } of worst) {
    const position = q.bigAfter ? decodeCursor(q.bigAfter, q.sort, q.status) : undefined;
    if (position && "error" in position) throw new Error(position.error);
    const values: Record<string, unknown> = {
      userId: "big",
      status: q.status,
      limit: 21,
      offset: q.offset,
      key: position?.key,
      id: position?.id,
    };
    // A deep offset runs from the list's anchors once the service has them (the warm-up took them):
    // the same anchors, taken here, make the same statement.
    let mode = q.mode;
    const at = Math.floor(q.offset / ANCHOR_EVERY) - 1;
    if (mode === "offset" && at >= 0) {
      const anchors = await anchorsQuery(db, q.sort, q.status)
        .prepare(`bench_anchors_${queries.indexOf(q)}`)
        .execute({ userId: "big", status: q.status, every: ANCHOR_EVERY });
      const anchor = anchors[at];
      if (anchor) {
        mode = "anchored";
        Object.assign(values, {
          key: anchor.key,
          id: anchor.id,
          from: q.offset - (at + 1) * ANCHOR_EVERY,
          generation: anchor.generation,
        });
      }
    }
    const { sql: text, params } = listQuery(db, q.sort, q.status, mode).toSQL();
    const bound = params.map((p: any) => (p && typeof p === "object" && "name" in p ? values[p.name] : p));
    const plan = await sql.unsafe(`explain (analyze, buffers, costs off) ${text}`, bound as any[]);
    console.log(
      `\nEXPLAIN ANALYZE, ${BIG}-task user, ${q.name} (${mode}):\n${plan.map((r: any) => `  ${r["QUERY PLAN"]}`).join("\n")}`,
    );
  }
} finally {
  await cleanup();
}
