// What any driver behind openDatabase must get right, whichever it is: every one of thousands of
// concurrent, pipelined statements answered with its own rows, and a timestamp read from the database
// and sent back to it unchanged, to the microsecond.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { DEFAULT_DATABASE_LIMITS } from "../src/config";
import { type Database, openDatabase } from "../src/db/client";
import { tasks } from "../src/db/schema";
import { createFreshDatabase, testDatabase } from "./setup";
import { buildApp, newUser, type TestApp, tokenFor } from "./support/app";

const USERS = 1000;
const TASKS_PER_USER = 3;

let database: Database;
let drop: (() => Promise<void>) | undefined;
let api: TestApp;
const rows: { id: number; title: string; description: string; user: string; token: string }[] = [];

beforeAll(async () => {
  if (process.env.TEST_DATABASE_URL) {
    // A database of its own, so that 3,000 requests queue for the pool without the 2 s queue timeout
    // turning the check into a load test.
    const fresh = await createFreshDatabase("tasks_driver");
    drop = fresh.drop;
    database = await openDatabase(
      { kind: "postgres", url: fresh.url, poolMax: 10, prepare: true },
      { ...DEFAULT_DATABASE_LIMITS, queueTimeoutMs: 120_000 },
    );
    await database.migrate();
  } else {
    database = await testDatabase();
  }
  api = await buildApp({ database, fairShare: { rateLimitPerMinute: 0, userConcurrency: 0, maxTasksPerUser: 0 } });
  const users = await Promise.all(
    Array.from({ length: USERS }, async () => {
      const user = newUser("crosstalk");
      return { user, token: await tokenFor(user) };
    }),
  );
  const values = users.flatMap(({ user }) =>
    Array.from({ length: TASKS_PER_USER }, (_, i) => ({
      userId: user,
      title: `${user}#${i}`,
      description: `about ${user} ${i}`,
    })),
  );
  for (let i = 0; i < values.length; i += 500) {
    const inserted = await database.write((db) =>
      db
        .insert(tasks)
        .values(values.slice(i, i + 500))
        .returning({ id: tasks.id, title: tasks.title, description: tasks.description, userId: tasks.userId }),
    );
    for (const row of inserted)
      rows.push({
        id: row.id,
        title: row.title,
        description: row.description!,
        user: row.userId,
        token: users.find((u) => u.user === row.userId)!.token,
      });
  }
}, 120_000);

afterAll(async () => {
  if (!drop) return;
  await database.close();
  await drop();
});

describe("no cross-talk under concurrency", () => {
  test(`${USERS * TASKS_PER_USER} concurrent GETs of distinct ids through the service: each answer is its own row`, async () => {
    expect(rows).toHaveLength(USERS * TASKS_PER_USER);
    const answers = await Promise.all(
      rows.map(async (row) => {
        const res = await api.request("GET", `/api/tasks/${row.id}`, { token: row.token });
        return { row, status: res.status, body: (await res.json()) as any };
      }),
    );
    const wrong = answers.filter(
      ({ row, status, body }) =>
        status !== 200 || body.id !== row.id || body.title !== row.title || body.description !== row.description,
    );
    expect(wrong.map(({ row, status, body }) => ({ id: row.id, status, got: body.id ?? body.detail }))).toEqual([]);
  }, 120_000);

  test(`${USERS * TASKS_PER_USER} concurrent statements, each with its own parameters, pipelined on the pool: each result is its own`, async () => {
    const answers = await Promise.all(
      rows.map((row, n) =>
        database.read(async (db) => {
          // Parameters echoed next to the row: a result delivered to the wrong statement shows at once.
          const result = await db.execute(
            sql`select id, title, ${n}::int as n, ${row.user}::text as asked from tasks where id = ${row.id}`,
          );
          return { row, n, got: [...(result as Iterable<any>)] };
        }),
      ),
    );
    const wrong = answers.filter(
      ({ row, n, got }) =>
        got.length !== 1 ||
        Number(got[0].id) !== row.id ||
        got[0].title !== row.title ||
        got[0].n !== n ||
        got[0].asked !== row.user,
    );
    expect(wrong.map(({ row, got }) => ({ id: row.id, got }))).toEqual([]);
  }, 120_000);
});

describe("timestamps to the microsecond", () => {
  const STORED = "2026-03-04 05:06:07.123456+00";
  const rowsOf = async (result: Promise<unknown>) => [...((await result) as Iterable<any>)];
  const asText = (column: ReturnType<typeof sql>) =>
    sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')`;

  test("a timestamp sent as a parameter is stored to the microsecond", async () => {
    const [row] = await database.write((db) =>
      db
        .insert(tasks)
        .values({ userId: newUser("ts"), title: "ts" })
        .returning({ id: tasks.id }),
    );
    await database.write((db) =>
      db.execute(sql`update tasks set created_at = ${STORED}::timestamptz where id = ${row!.id}`),
    );
    const [stored] = await database.read((db) =>
      rowsOf(db.execute(sql`select ${asText(sql`created_at`)} as t from tasks where id = ${row!.id}`)),
    );
    expect((stored as any).t).toBe("2026-03-04 05:06:07.123456");
  });

  test("a timestamp read through the driver and sent back finds its own row (nothing rounded on the way)", async () => {
    const user = newUser("ts");
    const [row] = await database.write((db) =>
      db.insert(tasks).values({ userId: user, title: "ts" }).returning({ id: tasks.id }),
    );
    await database.write((db) =>
      db.execute(sql`update tasks set created_at = ${STORED}::timestamptz where id = ${row!.id}`),
    );
    const [read] = await database.read((db) =>
      rowsOf(db.execute(sql`select created_at from tasks where id = ${row!.id}`)),
    );
    const value = (read as any).created_at;
    const [back] = await database.read((db) =>
      rowsOf(
        db.execute(
          sql`select count(*)::int as n, ${asText(sql`${value}::timestamptz`)} as t from tasks where user_id = ${user} and created_at = ${value}::timestamptz`,
        ),
      ),
    );
    expect(back).toEqual({ n: 1, t: "2026-03-04 05:06:07.123456" });
  });
});

describe("text read back as it was stored, whatever its bytes", () => {
  // ASCII and multi-byte characters side by side in one row, and lengths whose 4-byte prefix on the wire
  // holds bytes of 0x80 and above (128, 200), or is itself a UTF-8 sequence (50,089 = 0x0000C3A9 "é").
  const VALUES = ["plain", "", "é", "naïve café", "日本語", "🙂 and text", "a".repeat(127), "b".repeat(128)];
  VALUES.push("c".repeat(200), `${"x".repeat(127)}é`, "d".repeat(50_089));

  test("every value of every row comes back with its own characters, next to any neighbour", async () => {
    const pairs = VALUES.flatMap((a) => VALUES.map((b) => [a, b] as const));
    const rows = await database.read(async (db) => [
      ...((await db.execute(
        sql`select v.a, v.b, null::text as n, array[v.a, v.b] as pair, octet_length(v.a)::int as bytes
          from (values ${sql.join(
            pairs.map(([a, b], i) => sql`(${i}::int, ${a}::text, ${b}::text)`),
            sql`, `,
          )}) as v(i, a, b) order by v.i`,
      )) as Iterable<{ a: string; b: string; n: null; pair: string[]; bytes: number }>),
    ]);
    expect(rows).toHaveLength(pairs.length);
    rows.forEach((row, i) => {
      const [a, b] = pairs[i]!;
      expect(row).toEqual({ a, b, n: null, pair: [a, b], bytes: Buffer.byteLength(a) });
    });
  });
});
