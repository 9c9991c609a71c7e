import { describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { loadConfig } from "../src/config";
import { type Database, openDatabase } from "../src/db/client";
import { tasks } from "../src/db/schema";
import { createFreshDatabase, testDatabase } from "./setup";
import { buildApp, newUser, SECRET } from "./support/app";
import { missing, POSTGRES } from "./support/requires";

const rowsOf = (result: any): any[] => (Array.isArray(result) ? result : result.rows);

async function plan(database: Database, query: ReturnType<typeof sql>) {
  // Forbid the alternatives so the plan shows whether an index can deliver the order by itself.
  return database.read((db) =>
    db.transaction(async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`);
      await tx.execute(sql`set local enable_sort = off`);
      return rowsOf(await tx.execute(sql`explain ${query}`))
        .map((r) => r["QUERY PLAN"])
        .join("\n");
    }),
  );
}

describe("schema", () => {
  test("the database itself refuses a status outside the three values", async () => {
    const database = await testDatabase();
    const error: any = await database
      .write((db) => db.insert(tasks).values({ title: "x", userId: newUser(), status: "archived" as any }))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    const code = error?.code ?? error?.cause?.code;
    expect(code).toBe("23514");
  });

  test("title is varchar(255) and user_id varchar(255) in the database", async () => {
    const columns = rowsOf(
      await (await testDatabase()).read((db) =>
        db.execute(
          sql`select column_name, data_type, character_maximum_length, is_nullable from information_schema.columns where table_name = 'tasks' order by column_name`,
        ),
      ),
    );
    const byName = Object.fromEntries(columns.map((c) => [c.column_name, c]));
    expect(byName.title).toMatchObject({
      data_type: "character varying",
      character_maximum_length: 255,
      is_nullable: "NO",
    });
    expect(byName.user_id).toMatchObject({
      data_type: "character varying",
      character_maximum_length: 255,
      is_nullable: "NO",
    });
    expect(byName.description).toMatchObject({ data_type: "text", is_nullable: "YES" });
    expect(byName.id).toMatchObject({ data_type: "bigint" });
    expect(byName.created_at).toMatchObject({ data_type: "timestamp with time zone", is_nullable: "NO" });
  });

  test("a user's tasks newest first, with or without a status filter, come from an index without a sort", async () => {
    const db = await testDatabase();
    const user = newUser();
    const all = await plan(
      db,
      sql`select *, count(*) over () from tasks where user_id = ${user} order by created_at desc, id desc limit 20`,
    );
    expect(all).toContain("tasks_user_created_idx");
    expect(all).not.toContain("Sort");
    const filtered = await plan(
      db,
      sql`select *, count(*) over () from tasks where user_id = ${user} and status = 'pending' order by created_at desc, id desc limit 20`,
    );
    // Either index delivers the order (the planner picks by statistics); what matters is no Sort.
    expect(filtered).toMatch(/tasks_user_(status_)?created_idx/);
    expect(filtered).not.toContain("Sort");
    const oldest = await plan(
      db,
      sql`select * from tasks where user_id = ${user} order by created_at asc, id asc limit 20`,
    );
    expect(oldest).not.toContain("Sort");
  });
});

describe("migrations", () => {
  test("running them again applies nothing", async () => {
    expect(await (await testDatabase()).migrate()).toBe(0);
  });

  test.skipIf(missing(!!process.env.TEST_DATABASE_URL, POSTGRES))(
    "replicas migrating one fresh database at once apply each migration exactly once",
    async () => {
      const fresh = await createFreshDatabase("tasks_migrate");
      const replicas = await Promise.all(
        [1, 2, 3].map(() => openDatabase({ kind: "postgres", url: fresh.url, poolMax: 2, prepare: true })),
      );
      try {
        const applied = await Promise.all(replicas.map((r) => r.migrate()));
        const migrations = (await Bun.file(`${import.meta.dir}/../drizzle/meta/_journal.json`).json()).entries.length;
        expect(applied.reduce((a, b) => a + b, 0)).toBe(migrations);
        const journal = rowsOf(
          await replicas[0]!.read((db) => db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)),
        );
        expect(journal[0].n).toBe(migrations);
      } finally {
        await Promise.all(replicas.map((r) => r.close()));
        await fresh.drop();
      }
    },
  );
});

describe.skipIf(missing(!!process.env.TEST_DATABASE_URL, POSTGRES))(
  "Neon-style connection URLs against the real server",
  () => {
    test("sslmode and channel_binding at prefer connect in plain text to a server without TLS, as libpq does", async () => {
      const url = new URL(process.env.TEST_DATABASE_URL!);
      url.searchParams.set("sslmode", "prefer"); // the local server has no TLS; test/tls.test.ts covers require
      url.searchParams.set("channel_binding", "prefer");
      const config = loadConfig({ BETTER_AUTH_SECRET: SECRET, DATABASE_URL: url.toString() });
      const database = await openDatabase(config.database);
      try {
        await database.ping();
      } finally {
        await database.close();
      }
    });

    test("with prepared statements off (PgBouncer transaction mode), the whole API works", async () => {
      const fresh = await createFreshDatabase("tasks_noprepare");
      const database = await openDatabase({ kind: "postgres", url: fresh.url, poolMax: 2, prepare: false });
      try {
        await database.migrate();
        const api = await buildApp({ database });
        const user = newUser();
        const created = await api.as(user, "POST", "/api/tasks", { title: "unprepared" });
        expect(created.status).toBe(201);
        expect((await api.as(user, "PUT", `/api/tasks/${created.body.id}`, { status: "completed" })).status).toBe(200);
        expect((await api.as(user, "GET", "/api/tasks")).body.length).toBe(1);
        expect((await api.as(user, "DELETE", `/api/tasks/${created.body.id}`)).status).toBe(204);
      } finally {
        await database.close();
        await fresh.drop();
      }
    });
  },
);
