// Through a real PgBouncer in transaction mode (max_prepared_statements), TLS on both sides, and the
// never-hang promise with a frozen pooler, a frozen database and a pile of blocked statements.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { loadConfig } from "../src/config";
import { type Database, openDatabase } from "../src/db/client";
import { buildApp, newUser, SECRET, type TestApp, timedCall } from "./support/app";
import { clusterAvailable, type TempCluster } from "./support/cluster";
import { expectNoLeaks } from "./support/hygiene";
import { lockRow, waitingOnLocks } from "./support/locks";
import { pgbouncerAvailable, startPgBouncer, type TempPgBouncer } from "./support/pgbouncer";
import { baseEnv, runToExit } from "./support/server";
import { startTlsCluster, type TlsCluster } from "./support/tls";

let tls: TlsCluster;
let cluster: TempCluster;
let bouncer: TempPgBouncer;
let admin: postgres.Sql;
const opened: { database: Database; api: TestApp }[] = [];
const answers: string[] = [];
const tokens: string[] = [];

const LIMITS = { DB_STATEMENT_TIMEOUT_MS: "1000", DB_QUEUE_TIMEOUT_MS: "1000", DB_CONNECT_TIMEOUT_MS: "1000" };
// The contract: no request waits more than the queue timeout plus the statement timeout plus one second.
const BOUND_MS = 1000 + 1000 + 1000;

async function appOn(url: string, env: Record<string, string> = {}) {
  const config = loadConfig({ BETTER_AUTH_SECRET: SECRET, DATABASE_URL: url, ...LIMITS, ...env });
  const database = await openDatabase(config.database, config.databaseLimits);
  opened.push({ database, api: undefined as unknown as TestApp });
  await database.migrate();
  const api = await buildApp({ database, fairShare: { userConcurrency: 0, rateLimitPerMinute: 0 } });
  opened.at(-1)!.api = api;
  const call = (user: string, method: string, path: string, body?: unknown) =>
    timedCall(api, { tokens, answers }, user, method, path, body);
  return { api, call, database };
}

// As in production: the certificate checked against the CA, host name included.
const verified = (url: string) => {
  const u = new URL(url);
  u.search = `?sslmode=verify-full&sslrootcert=${encodeURIComponent(tls.certs.caFile)}`;
  return u.toString();
};

const backends = async (database: string) =>
  Number(
    (
      await admin`select count(*)::int as n from pg_stat_activity where application_name = 'tasks-api' and datname = ${database}`
    )[0]!.n,
  );

/** Every process of the cluster (postmaster and backends), for SIGSTOP/SIGCONT. */
async function clusterPids(): Promise<number[]> {
  const [{ dir }] = (await admin`select current_setting('data_directory') as dir`) as unknown as [{ dir: string }];
  const postmaster = Number(readFileSync(join(dir, "postmaster.pid"), "utf8").split("\n")[0]);
  const children = Bun.spawnSync(["pgrep", "-P", String(postmaster)])
    .stdout.toString()
    .split("\n")
    .filter(Boolean)
    .map(Number);
  return [postmaster, ...children];
}

/** Requests one after another (a few at a time) until `stop`, each timed; none may outlast the bound. */
async function probe(
  call: (m: string, p: string) => Promise<{ status: number; body: any; headers: Headers; ms: number }>,
  path: string,
  until: Promise<unknown>,
) {
  const seen: { status: number; ms: number; retryAfter: string | null; body: any }[] = [];
  let done = false;
  void until.then(() => (done = true));
  while (!done) {
    const batch = await Promise.all([1, 2, 3].map(() => call("GET", path)));
    seen.push(
      ...batch.map((r) => ({ status: r.status, ms: r.ms, retryAfter: r.headers.get("retry-after"), body: r.body })),
    );
  }
  return seen;
}

async function servingAgain(
  call: (m: string, p: string) => Promise<{ status: number }>,
  path: string,
  withinMs: number,
) {
  const started = performance.now();
  while (performance.now() - started < withinMs) {
    if ((await call("GET", path)).status === 200) return performance.now() - started;
    await Bun.sleep(50);
  }
  return Infinity;
}

describe.skipIf(!clusterAvailable || !pgbouncerAvailable)(
  "through a real PgBouncer in transaction mode with TLS on both sides, and the never-hang promise",
  () => {
    beforeAll(async () => {
      tls = startTlsCluster();
      cluster = tls.cluster;
      const data = `${cluster.dir}/data`;
      bouncer = await startPgBouncer(
        { url: `${cluster.url}?sslmode=require`, password: cluster.password },
        {
          client_tls_sslmode: "require",
          client_tls_key_file: `${data}/server.key`,
          client_tls_cert_file: `${data}/server.crt`,
          server_tls_sslmode: "require",
        },
      );
      admin = postgres(`${cluster.url}?sslmode=require`, { max: 2, onnotice: () => {} });
    }, 60_000);

    afterAll(async () => {
      bouncer?.thaw();
      await Promise.all(opened.map(({ database }) => database.close().catch(() => {})));
      await admin?.end({ timeout: 1 });
      bouncer?.destroy();
      tls?.destroy();
      expectNoLeaks({
        answers,
        logs: opened.flatMap(({ api }) => (api?.logs ?? []).map((l) => JSON.stringify(l))),
        secrets: [...tokens, cluster?.password],
      });
    }, 30_000);

    test("the service serves the whole CRUD through PgBouncer with prepared statements on, and PgBouncer counts them as prepared", async () => {
      const { call } = await appOn(verified(bouncer.url));
      const before = await preparedStats();
      const user = newUser();
      const created = await call(user, "POST", "/api/tasks", { title: "pooled" });
      expect(created.status).toBe(201);
      for (let i = 0; i < 20; i++) expect((await call(user, "GET", `/api/tasks/${created.body.id}`)).status).toBe(200);
      expect(
        (await call(user, "PUT", `/api/tasks/${created.body.id}`, { title: "pooled again", status: "completed" })).body,
      ).toMatchObject({ title: "pooled again", status: "completed" });
      expect(
        (await call(user, "PATCH", `/api/tasks/${created.body.id}`, { description: "patched" })).body.description,
      ).toBe("patched");
      expect((await call(user, "GET", "/api/tasks")).body.map((t: any) => t.title)).toEqual(["pooled again"]);
      expect((await call(user, "DELETE", `/api/tasks/${created.body.id}`)).status).toBe(204);
      expect((await call(user, "GET", `/api/tasks/${created.body.id}`)).status).toBe(404);
      const after = await preparedStats();
      const binds = after.binds - before.binds;
      const parses = after.parses - before.parses;
      console.log(
        `through PgBouncer: ${binds} executions of named prepared statements, ${parses} Parse messages from the service`,
      );
      // Each statement is parsed once per connection and then only bound: 20 GETs by id, one Parse at most.
      expect(binds).toBeGreaterThanOrEqual(20);
      expect(parses).toBeLessThan(binds / 2);
    }, 30_000);

    test("with PgBouncer frozen (SIGSTOP) for 15 s, every request answers 503 with Retry-After within queue + statement timeout + 1 s, and the service serves again once it resumes", async () => {
      const { call } = await appOn(verified(bouncer.url), { DB_POOL_MAX: "4" });
      const user = newUser();
      const task = await call(user, "POST", "/api/tasks", { title: "before the freeze" });
      expect(task.status).toBe(201);
      const path = `/api/tasks/${task.body.id}`;
      bouncer.freeze();
      let seen;
      try {
        seen = await probe((m, p) => call(user, m, p), path, Bun.sleep(15_000));
      } finally {
        bouncer.thaw();
      }
      const slowest = Math.max(...seen.map((r) => r.ms));
      console.log(
        `PgBouncer frozen 15 s: ${seen.length} requests, statuses ${JSON.stringify(countBy(seen.map((r) => r.status)))}, slowest ${slowest.toFixed(0)} ms (bound ${BOUND_MS} ms)`,
      );
      expect(seen.filter((r) => r.status !== 503)).toEqual([]);
      expect(seen.filter((r) => r.retryAfter === null || r.body?.detail !== "Database unavailable")).toEqual([]);
      expect(slowest).toBeLessThan(BOUND_MS);
      const recovered = await servingAgain((m, p) => call(user, m, p), path, 10_000);
      console.log(`PgBouncer resumed: serving again after ${recovered.toFixed(0)} ms`);
      expect(recovered).toBeLessThan(10_000);
      // The service's own client connections to the pooler (the admin console's is in database "pgbouncer").
      const clients = (await bouncer.admin("SHOW CLIENTS")).filter((c) => c.database === "postgres");
      expect(clients.length).toBeLessThanOrEqual(4 * 2); // this app's pool and the CRUD test's
    }, 60_000);

    /** Starts the service on `url`, which it must refuse at once: exit 1 with one line well before the startup timeout. */
    async function refusedAtStart(url: URL, what: string) {
      const result = await runToExit({
        ...baseEnv(),
        BETTER_AUTH_SECRET: SECRET,
        DATABASE_URL: url.toString(),
        DB_STARTUP_TIMEOUT_MS: "20000",
      });
      const stderr = result.stderr.trim();
      console.log(`${what} through PgBouncer: exit ${result.exitCode} after ${result.ms.toFixed(0)} ms: ${stderr}`);
      expect(result.exitCode).toBe(1);
      expect(result.ms).toBeLessThan(10_000);
      expect(stderr.split("\n").length).toBe(1);
      return { result, stderr };
    }

    test("a wrong password through PgBouncer exits 1 at once with one line naming the cause, never the password", async () => {
      const url = new URL(verified(bouncer.url));
      url.password = "not-the-password-x9";
      const { result, stderr } = await refusedAtStart(url, "wrong password");
      expect(stderr).toMatch(/authentication failed/i);
      expectNoLeaks({
        answers: [stderr],
        logs: [result.stdout, stderr],
        secrets: ["not-the-password-x9", cluster.password],
      });
    }, 30_000);

    test("at startup, a PgBouncer that accepts connections and then answers nothing is waited for until DB_STARTUP_TIMEOUT_MS, not taken for a refusal", async () => {
      bouncer.freeze();
      let result;
      try {
        // The connection opens (the kernel accepts it) and the handshake outlasts the statement deadline.
        result = await runToExit({
          ...baseEnv(),
          BETTER_AUTH_SECRET: SECRET,
          DATABASE_URL: verified(bouncer.url),
          DB_STATEMENT_TIMEOUT_MS: "300",
          DB_CONNECT_TIMEOUT_MS: "5000",
          DB_STARTUP_TIMEOUT_MS: "2500",
        });
      } finally {
        bouncer.thaw();
      }
      const stderr = result.stderr.trim();
      console.log(`frozen PgBouncer at startup: exit ${result.exitCode} after ${result.ms.toFixed(0)} ms: ${stderr}`);
      expect(result.exitCode).toBe(1);
      expect(stderr).toContain("database unreachable after 2500 ms (DB_STARTUP_TIMEOUT_MS)");
      expect(result.ms).toBeGreaterThanOrEqual(2500);
      expectNoLeaks({ answers: [stderr], logs: [result.stdout, stderr], secrets: [cluster.password] });
    }, 30_000);

    test("a missing database through PgBouncer exits 1 at once with one line naming it", async () => {
      const url = new URL(verified(bouncer.url));
      url.pathname = "/no_such_database";
      const { result, stderr } = await refusedAtStart(url, "missing database");
      expect(stderr).toContain("no_such_database");
      expectNoLeaks({ answers: [stderr], logs: [result.stdout, stderr], secrets: [cluster.password] });
    }, 30_000);

    test("directly, with the whole PostgreSQL frozen (SIGSTOP) for 5 s, every request answers 503 within the bound, and the service serves again once it resumes", async () => {
      const { call } = await appOn(verified(cluster.url), { DB_POOL_MAX: "4" });
      const user = newUser();
      const task = await call(user, "POST", "/api/tasks", { title: "before the freeze" });
      const path = `/api/tasks/${task.body.id}`;
      const pids = await clusterPids();
      for (const pid of pids) process.kill(pid, "SIGSTOP");
      let seen;
      try {
        seen = await probe((m, p) => call(user, m, p), path, Bun.sleep(5_000));
      } finally {
        for (const pid of pids) process.kill(pid, "SIGCONT");
      }
      const slowest = Math.max(...seen.map((r) => r.ms));
      console.log(
        `PostgreSQL frozen 5 s: ${seen.length} requests, statuses ${JSON.stringify(countBy(seen.map((r) => r.status)))}, slowest ${slowest.toFixed(0)} ms (bound ${BOUND_MS} ms)`,
      );
      expect(seen.filter((r) => r.status !== 503)).toEqual([]);
      expect(slowest).toBeLessThan(BOUND_MS);
      const recovered = await servingAgain((m, p) => call(user, m, p), path, 10_000);
      console.log(`PostgreSQL resumed: serving again after ${recovered.toFixed(0)} ms`);
      expect(recovered).toBeLessThan(10_000);
    }, 60_000);

    test("directly, 30 concurrent PUTs blocked on a row lock, with reads coming in: 503 within the bound, nothing written, and never more than DB_POOL_MAX backends", async () => {
      // A database of its own, so that only this app's backends count (PgBouncer keeps its own server connections).
      await admin.unsafe("create database blocked");
      const url = new URL(verified(cluster.url));
      url.pathname = "/blocked";
      const { call } = await appOn(url.toString(), { DB_POOL_MAX: "4" });
      const locker = postgres(`${cluster.url.replace(/\/postgres$/, "/blocked")}?sslmode=require`, {
        max: 2,
        onnotice: () => {},
      });
      const user = newUser();
      const task = await call(user, "POST", "/api/tasks", { title: "contended" });
      const other = await call(user, "POST", "/api/tasks", { title: "free" });
      const unlock = await lockRow(locker, task.body.id);
      let most = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          most = Math.max(most, await backends("blocked"));
          await Bun.sleep(20);
        }
      })();
      let puts;
      let reads;
      try {
        const pending = Promise.all(
          Array.from({ length: 30 }, (_, n) =>
            call(user, "PUT", `/api/tasks/${task.body.id}`, { title: `blocked ${n}` }),
          ),
        );
        await waitingOnLocks(locker, 1);
        // Reads keep arriving while the PUTs are stuck, so a replaced pool would open connections.
        reads = await probe((m, p) => call(user, m, p), `/api/tasks/${other.body.id}`, Bun.sleep(6_000));
        puts = await pending;
      } finally {
        await unlock();
        sampling = false;
        await sampler;
        await locker.end({ timeout: 1 });
      }
      const slowest = Math.max(...puts.map((r) => r.ms), ...reads.map((r) => r.ms));
      console.log(
        `30 blocked PUTs: statuses ${JSON.stringify(countBy(puts.map((r) => r.status)))}, reads ${JSON.stringify(countBy(reads.map((r) => r.status)))}, slowest ${slowest.toFixed(0)} ms, at most ${most} backends (DB_POOL_MAX=4)`,
      );
      expect(puts.filter((r) => r.status !== 503)).toEqual([]);
      expect(slowest).toBeLessThan(BOUND_MS);
      expect(most).toBeLessThanOrEqual(4);
      expect((await call(user, "GET", `/api/tasks/${task.body.id}`)).body.title).toBe("contended");
      expect((await call(user, "PUT", `/api/tasks/${task.body.id}`, { title: "after" })).status).toBe(200);
    }, 60_000);
  },
);

async function preparedStats() {
  const rows = await bouncer.admin("SHOW STATS");
  const row = rows.find((r) => r.database === "postgres")!;
  return { binds: Number(row.total_bind_count), parses: Number(row.total_client_parse_count) };
}

function countBy(values: (string | number)[]) {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}
