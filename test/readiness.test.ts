// /health/ready answers from a cached check: a probe flood costs the database one round trip a second,
// and a database that refuses writes or lacks the tasks table makes the replica not ready.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { type Database, openDatabase } from "../src/db/client";
import { createFreshDatabase } from "./setup";
import { buildApp, type TestApp } from "./support/app";
import { missing, POSTGRES } from "./support/requires";

const adminUrl = process.env.TEST_DATABASE_URL;
const probe = async (api: TestApp) => {
  const res = await api.request("GET", "/health/ready");
  return { status: res.status, body: await res.json() };
};
const eventually = async (api: TestApp, status: number, timeoutMs = 3000) => {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const answer = await probe(api);
    if (answer.status === status || performance.now() > deadline) return answer;
    await Bun.sleep(50);
  }
};

describe.skipIf(missing(!!adminUrl, POSTGRES))("readiness against a real PostgreSQL", () => {
  let fresh: Awaited<ReturnType<typeof createFreshDatabase>>;
  let database: Database;
  let api: TestApp;
  let admin: postgres.Sql;
  beforeAll(async () => {
    fresh = await createFreshDatabase("tasks_ready");
    database = await openDatabase({ kind: "postgres", url: fresh.url, poolMax: 4, prepare: true });
    api = await buildApp({ database });
    admin = postgres(adminUrl!, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await database?.close();
    await admin?.end();
    await fresh?.drop();
  });
  const name = () => new URL(fresh.url).pathname.slice(1);

  test("without the tasks table it is 503 not_migrated; once migrated, 200 within about a second", async () => {
    expect(await probe(api)).toEqual({ status: 503, body: { status: "unavailable", database: "not_migrated" } });
    await database.migrate();
    expect(await eventually(api, 200, 3000)).toEqual({ status: 200, body: { status: "ok", database: "ok" } });
  });

  test("a flood of 5,000 probes in about 2.5 s costs at most one round trip a second, and every probe is answered", async () => {
    await database.migrate();
    // The real database, with every piece of database work the app admits counted (PostgreSQL's own
    // statistics reach pg_stat_database up to 10 s late, too late to read here).
    let roundTrips = 0;
    const counted: Database = {
      ...database,
      read: (work) => {
        roundTrips++;
        return database.read(work);
      },
    };
    const flooded = await buildApp({ database: counted });
    const started = performance.now();
    const statuses = new Map<number, number>();
    let slowest = 0;
    for (let batch = 0; batch < 50; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          const t = performance.now();
          const { status } = await probe(flooded);
          slowest = Math.max(slowest, performance.now() - t);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }),
      );
      await Bun.sleep(50);
    }
    const seconds = (performance.now() - started) / 1000;
    expect([...statuses]).toEqual([[200, 5000]]);
    // One check per started second of the flood, plus the one that may straddle its end.
    expect(roundTrips).toBeGreaterThanOrEqual(1);
    expect(roundTrips).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    console.log(
      `probe flood: 5000 probes in ${seconds.toFixed(2)} s -> ${roundTrips} database round trips; slowest probe ${slowest.toFixed(1)} ms`,
    );
  }, 30_000);

  test("a database that refuses writes (transaction_read_only) is 503 read_only, and 200 again once it accepts them", async () => {
    await database.migrate();
    expect((await eventually(api, 200)).status).toBe(200);
    // New sessions of this database start read-only, as on a standby; the pool's connections are replaced.
    await admin.unsafe(`alter database "${name()}" set default_transaction_read_only = on`);
    await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name()}`;
    try {
      expect(await eventually(api, 503)).toEqual({
        status: 503,
        body: { status: "unavailable", database: "read_only" },
      });
    } finally {
      await admin.unsafe(`alter database "${name()}" reset default_transaction_read_only`);
      await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name()}`;
    }
    expect(await eventually(api, 200)).toEqual({ status: 200, body: { status: "ok", database: "ok" } });
  }, 20_000);

  test("an unreachable database is 503 unreachable", async () => {
    const gone = await openDatabase({
      kind: "postgres",
      url: `${adminUrl!.replace(/:\d+\//, ":1/")}`,
      poolMax: 1,
      prepare: true,
    });
    try {
      const down = await buildApp({ database: gone });
      expect(await probe(down)).toEqual({ status: 503, body: { status: "unavailable", database: "unreachable" } });
    } finally {
      await gone.close();
    }
  });
});
