// What a write with an Idempotency-Key costs the database, counted by PostgreSQL itself
// (pg_stat_statements on a cluster of the test's own): the statements each request sends.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { loadConfig } from "../src/config";
import { type Database, openDatabase } from "../src/db/client";
import { buildApp, newUser, SECRET, type TestApp } from "./support/app";
import { clusterAvailable, startTempCluster, type TempCluster } from "./support/cluster";

const N = 10;
let cluster: TempCluster;
let database: Database;
let api: TestApp;
let admin: postgres.Sql;

describe.skipIf(!clusterAvailable)("cost of Idempotency-Key, in statements", () => {
  beforeAll(async () => {
    cluster = startTempCluster({
      configure: (data) =>
        appendFileSync(
          join(data, "postgresql.conf"),
          "\nshared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track_utility = on\n",
        ),
    });
    const config = loadConfig({ BETTER_AUTH_SECRET: SECRET, DATABASE_URL: cluster.url, DB_POOL_MAX: "2" });
    database = await openDatabase(config.database, config.databaseLimits);
    await database.migrate();
    api = await buildApp({ database });
    admin = postgres(cluster.url, { max: 1, onnotice: () => {} });
    await admin`create extension if not exists pg_stat_statements`;
  }, 60_000);

  afterAll(async () => {
    await admin?.end();
    await database?.close();
    cluster?.destroy();
  }, 30_000);

  /**
   * Every statement the app sent while `work` ran (BEGIN and COMMIT included), by text, but the cleanup
   * of expired keys that a process's first keyed write starts off the request's path, and the type
   * lookup postgres.js sends on each new connection.
   */
  async function statementsOf(work: () => Promise<void>) {
    await admin`select pg_stat_statements_reset()`;
    await work();
    const rows = await admin<{ query: string; calls: number }[]>`
      select query, calls::int from pg_stat_statements
      where dbid = (select oid from pg_database where datname = current_database())
        and query not like '%pg_stat_statements%' and query not like '%skip locked%' and query not like '%pg_catalog.pg_type%'`;
    return rows;
  }
  const total = (rows: { calls: number }[]) => rows.reduce((sum, r) => sum + r.calls, 0);

  test(`a POST with a key is one statement, as one without a key is: ${N} requests, ${N} statements each way`, async () => {
    const user = newUser();
    const plain = await statementsOf(async () => {
      for (let i = 0; i < N; i++)
        expect((await api.as(user, "POST", "/api/tasks", { title: `plain ${i}` })).status).toBe(201);
    });
    const keyed = await statementsOf(async () => {
      for (let i = 0; i < N; i++) {
        expect(
          (
            await api.as(
              user,
              "POST",
              "/api/tasks",
              { title: `keyed ${i}` },
              { "idempotency-key": crypto.randomUUID() },
            )
          ).status,
        ).toBe(201);
      }
    });
    expect(total(plain)).toBe(N);
    expect({ total: total(keyed), queries: keyed.map((r) => r.query.replace(/\s+/g, " ").slice(0, 60)) }).toEqual({
      total: N,
      queries: [expect.stringContaining("insert into task_counts")],
    });
    expect(keyed[0]!.query).toContain("insert into idempotency_keys");
  }, 30_000);

  test(`a PUT, PATCH or DELETE with a key is one statement, as one without a key is, with or without If-Match`, async () => {
    const user = newUser();
    const ids: number[] = [];
    for (let i = 0; i < 3 * N; i++) ids.push((await api.as(user, "POST", "/api/tasks", { title: `t${i}` })).body.id);
    const key = () => ({ "idempotency-key": crypto.randomUUID() });
    const cases: [string, (id: number, headers: Record<string, string>) => Promise<{ status: number }>, number][] = [
      ["PUT title", (id, h) => api.as(user, "PUT", `/api/tasks/${id}`, { title: "renamed" }, h), 200],
      ["PATCH status", (id, h) => api.as(user, "PATCH", `/api/tasks/${id}`, { status: "completed" }, h), 200],
      ["DELETE", (id, h) => api.as(user, "DELETE", `/api/tasks/${id}`, undefined, h), 204],
    ];
    for (const [index, [name, send, status]] of cases.entries()) {
      const mine = ids.slice(index * N, (index + 1) * N);
      const keyed = await statementsOf(async () => {
        for (const [i, id] of mine.entries())
          expect((await send(id, { ...key(), ...(i % 2 ? { "if-match": `"${id}-1"` } : {}) })).status).toBe(status);
      });
      expect({ name, total: total(keyed), statements: keyed.length }).toEqual({ name, total: N, statements: 1 });
      expect(keyed[0]!.query).toContain("insert into idempotency_keys");
    }
  }, 30_000);
});
