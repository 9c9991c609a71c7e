import { beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { type Database, openDatabase } from "../src/db/client";
import { createFreshDatabase } from "./setup";
import { buildApp, newUser, type TestApp } from "./support/app";

let api: TestApp;
beforeAll(async () => {
  api = await buildApp({ fairShare: { rateLimitPerMinute: 0, userConcurrency: 0, maxTasksPerUser: 0 } });
}, 30_000);

const totals = async (user: string) => {
  const out: Record<string, string | null> = {};
  for (const status of ["", "pending", "in_progress", "completed"]) {
    const res = await api.as(user, "GET", `/api/tasks?limit=1${status ? `&status=${status}` : ""}`);
    out[status || "all"] = res.headers.get("x-total-count");
  }
  return out;
};

describe("X-Total-Count from the per-user counters", () => {
  test("follows creates, status changes and deletes, per status", async () => {
    const user = newUser();
    const ids: number[] = [];
    for (const status of ["pending", "pending", "pending", "completed", "completed", "in_progress"]) {
      ids.push((await api.as(user, "POST", "/api/tasks", { title: "t", status })).body.id);
    }
    expect(await totals(user)).toEqual({ all: "6", pending: "3", in_progress: "1", completed: "2" });
    expect((await api.as(user, "PUT", `/api/tasks/${ids[0]}`, { status: "completed" })).status).toBe(200);
    expect((await api.as(user, "PATCH", `/api/tasks/${ids[1]}`, { title: "renamed", status: "pending" })).status).toBe(
      200,
    );
    expect((await api.as(user, "PATCH", `/api/tasks/${ids[2]}`, { title: "title only" })).status).toBe(200);
    expect(await totals(user)).toEqual({ all: "6", pending: "2", in_progress: "1", completed: "3" });
    // A status change whose If-Match is stale changes nothing, counters included.
    expect(
      (await api.as(user, "PUT", `/api/tasks/${ids[5]}`, { status: "pending" }, { "if-match": `"${ids[5]}-9"` }))
        .status,
    ).toBe(412);
    expect(
      (await api.as(user, "PUT", `/api/tasks/${ids[5]}`, { status: "completed" }, { "if-match": `"${ids[5]}-1"` }))
        .status,
    ).toBe(200);
    expect((await api.as(user, "DELETE", `/api/tasks/${ids[3]}`)).status).toBe(204);
    expect((await api.as(user, "PUT", `/api/tasks/${ids[3]}`, { status: "pending" })).status).toBe(404);
    expect(await totals(user)).toEqual({ all: "5", pending: "2", in_progress: "0", completed: "3" });
    // Past the end, the total is still the full count.
    expect((await api.as(user, "GET", "/api/tasks?status=completed&offset=50")).headers.get("x-total-count")).toBe("3");
  });

  test("concurrent status changes of one task leave counters that match the tasks", async () => {
    const user = newUser();
    const { body } = await api.as(user, "POST", "/api/tasks", { title: "contended" });
    await api.as(user, "POST", "/api/tasks", { title: "bystander", status: "in_progress" });
    const statuses = ["completed", "in_progress", "pending"];
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) => api.as(user, "PATCH", `/api/tasks/${body.id}`, { status: statuses[i % 3] })),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const final = (await api.as(user, "GET", `/api/tasks/${body.id}`)).body.status;
    const expected = { all: "2", pending: "0", in_progress: "1", completed: "0" } as Record<string, string>;
    expected[final] = String(Number(expected[final]) + 1);
    expect(await totals(user)).toEqual(expected);
  });
});

describe("the counter backfill migration", () => {
  // Migrations up to the one that created task_counts, applied as the migrator would have.
  const migrations = readMigrationFiles({ migrationsFolder: `${import.meta.dir}/../drizzle` });
  const upToCounters = migrations.slice(0, 3);

  async function databaseBeforeTheCounters(): Promise<{ db: Database; drop: () => Promise<void>; url?: string }> {
    const fresh = process.env.TEST_DATABASE_URL ? await createFreshDatabase("tasks_backfill") : undefined;
    const db = fresh
      ? await openDatabase({ kind: "postgres", url: fresh.url, poolMax: 2, prepare: true })
      : await openDatabase({ kind: "pglite", dataDir: undefined, poolMax: 1 });
    await db.write(async (d) => {
      await d.execute(sql`create schema drizzle`);
      await d.execute(
        sql`create table drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`,
      );
      for (const m of upToCounters) {
        for (const statement of m.sql) if (statement.trim()) await d.execute(sql.raw(statement));
        await d.execute(
          sql`insert into drizzle.__drizzle_migrations (hash, created_at) values (${m.hash}, ${m.folderMillis})`,
        );
      }
    });
    return {
      db,
      url: fresh?.url,
      drop: async () => {
        await db.close();
        await fresh?.drop();
      },
    };
  }

  test("counts the tasks written before the counters existed; a counter that was off is corrected", async () => {
    expect(upToCounters.at(-1)!.sql.join("")).toContain("task_counts");
    const { db, url, drop } = await databaseBeforeTheCounters();
    try {
      await db.write(async (d) => {
        await d.execute(
          sql`insert into tasks (title, user_id, status) values ('a', 'old', 'pending'), ('b', 'old', 'pending'), ('c', 'old', 'completed'), ('d', 'counted', 'in_progress')`,
        );
        // A counter that disagrees with the table, and one for a user whose tasks are all gone.
        await d.execute(sql`insert into task_counts (user_id, total) values ('counted', 7), ('gone', 3)`);
      });
      // Two replicas starting at once: the advisory lock lets one apply the migrations, the other none.
      const second = url ? await openDatabase({ kind: "postgres", url, poolMax: 1, prepare: true }) : undefined;
      const applied = await Promise.all([db.migrate(), ...(second ? [second.migrate()] : [])]);
      await second?.close();
      expect(applied.reduce((a, b) => a + b, 0)).toBe(migrations.length - upToCounters.length);
      const rows = await db.read((d) =>
        d.execute(sql`select user_id, total, pending, in_progress, completed from task_counts order by user_id`),
      );
      const list = (Array.isArray(rows) ? rows : (rows as any).rows).map((r: any) => [
        r.user_id,
        ...[r.total, r.pending, r.in_progress, r.completed].map(Number),
      ]);
      expect(list).toEqual([
        ["counted", 1, 0, 1, 0],
        ["gone", 0, 0, 0, 0],
        ["old", 3, 2, 0, 1],
      ]);
      expect(await db.migrate()).toBe(0);
    } finally {
      await drop();
    }
  }, 60_000);
});
