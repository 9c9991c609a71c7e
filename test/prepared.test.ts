// Every statement of the task routes is prepared on its connection (parsed and planned once per
// connection, not on every request), unless DB_PREPARE=false asks for unnamed statements (a pooler
// without prepared-statement support). Seen from the server: pg_prepared_statements of the one
// connection a pool of one holds.
import { afterAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { DEFAULT_DATABASE_LIMITS } from "../src/config";
import { type Database, openDatabase } from "../src/db/client";
import { createFreshDatabase } from "./setup";
import { buildApp, newUser } from "./support/app";

const opened: { database: Database; drop: () => Promise<void> }[] = [];
afterAll(async () => {
  for (const { database, drop } of opened) {
    await database.close();
    await drop();
  }
});

/** The texts of the statements prepared on the pool's only connection, after one request of each route. */
async function preparedAfterEveryRoute(prepare: boolean): Promise<string[]> {
  const fresh = await createFreshDatabase("tasks_prepared");
  const database = await openDatabase(
    { kind: "postgres", url: fresh.url, poolMax: 1, prepare },
    DEFAULT_DATABASE_LIMITS,
  );
  opened.push({ database, drop: fresh.drop });
  await database.migrate();
  const api = await buildApp({ database });
  const user = newUser("prepared");
  const created = await api.as(user, "POST", "/api/tasks", { title: "one" });
  expect(created.status).toBe(201);
  const id = created.body.id;
  const answers = [
    await api.as(user, "GET", `/api/tasks/${id}`),
    await api.as(user, "GET", "/api/tasks?limit=5"),
    await api.as(user, "PATCH", `/api/tasks/${id}`, { title: "two" }),
    await api.as(user, "PUT", `/api/tasks/${id}`, { status: "completed" }),
    await api.as(user, "DELETE", `/api/tasks/${id}`),
  ];
  expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 204]);
  const rows = await database.read(async (db) => [
    ...((await db.execute(sql`select statement from pg_prepared_statements`)) as Iterable<{ statement: string }>),
  ]);
  return rows.map((r) => r.statement);
}

describe.skipIf(!process.env.TEST_DATABASE_URL)("prepared statements", () => {
  test("each route's statement is prepared once on the connection and reused", async () => {
    const statements = await preparedAfterEveryRoute(true);
    const find = (part: RegExp) => statements.filter((s) => part.test(s));
    expect(find(/^select .* from "tasks" where \("tasks"."id" = \$1 and "tasks"."user_id" = \$2\)$/s)).toHaveLength(1);
    expect(find(/limit \$\d+$/)).toHaveLength(1); // the list's first page
    expect(find(/insert into tasks/)).toHaveLength(1);
    expect(find(/^with changed as \(\s*update tasks/)).toHaveLength(1); // PATCH of the title
    expect(find(/^with old as/)).toHaveLength(1); // PUT of the status
    expect(find(/^with deleted as/)).toHaveLength(1);
  });

  test("with DB_PREPARE=false no statement is prepared", async () => {
    expect(await preparedAfterEveryRoute(false)).toEqual([]);
  });
});
