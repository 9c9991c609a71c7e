// Idempotency-Key on every write: replays, mismatches, per-user keys, concurrency, failures, expiry.
import { beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { ConfigError, loadConfig } from "../src/config";
import type { Database } from "../src/db/client";
import { testDatabase } from "./setup";
import { buildApp, newUser, SECRET, type TestApp, tokenFor } from "./support/app";

let api: TestApp;
let database: Database;
beforeAll(async () => {
  api = await buildApp();
  database = await testDatabase();
}, 30_000);

const rowsOf = (result: any): any[] => (Array.isArray(result) ? result : result.rows);
/** SQL straight on the run's database, for what HTTP cannot show (stored rows) or do (let a day pass). */
const query = async (statement: ReturnType<typeof sql>) => rowsOf(await database.write((db) => db.execute(statement)));
const key = () => crypto.randomUUID();
const keyed = (k: string, more: Record<string, string> = {}) => ({ "idempotency-key": k, ...more });
const storedKeys = async (user: string) =>
  await query(sql`select key, status, expires_at from idempotency_keys where user_id = ${user}`);
const titles = async (user: string) =>
  (await api.as(user, "GET", "/api/tasks?sort=created_at")).body.map((t: any) => t.title);
/** The parts of an answer a replay must repeat exactly. */
const answerOf = (res: { status: number; body: any; headers: Headers }) => ({
  status: res.status,
  body: res.body,
  location: res.headers.get("location"),
  etag: res.headers.get("etag"),
});

describe("replays", () => {
  test("a repeated POST with the same key answers the first 201 again (body, Location, ETag) with Idempotent-Replayed: true and creates nothing", async () => {
    const user = newUser();
    const k = key();
    const first = await api.as(user, "POST", "/api/tasks", { title: "once" }, keyed(k));
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const again = await api.as(user, "POST", "/api/tasks", { title: "once" }, keyed(k));
    expect(answerOf(again)).toEqual(answerOf(first));
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await titles(user)).toEqual(["once"]);
  });

  test.each(["PUT", "PATCH"])(
    "a repeated %s answers its first 200 again and does not apply the change a second time",
    async (method) => {
      const user = newUser();
      const task = (await api.as(user, "POST", "/api/tasks", { title: "before" })).body;
      const k = key();
      const first = await api.as(user, method, `/api/tasks/${task.id}`, { title: "first change" }, keyed(k));
      expect(first.status).toBe(200);
      // Someone changes the task in between; the repeat must neither undo that nor bump the version.
      const later = await api.as(user, "PATCH", `/api/tasks/${task.id}`, { title: "later change" });
      const again = await api.as(user, method, `/api/tasks/${task.id}`, { title: "first change" }, keyed(k));
      expect(answerOf(again)).toEqual(answerOf(first));
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      const now = await api.as(user, "GET", `/api/tasks/${task.id}`);
      expect(now.body.title).toBe("later change");
      expect(now.headers.get("etag")).toBe(later.headers.get("etag"));
    },
  );

  test("a repeated DELETE answers 204 again instead of 404", async () => {
    const user = newUser();
    const task = (await api.as(user, "POST", "/api/tasks", { title: "doomed" })).body;
    const k = key();
    const first = await api.as(user, "DELETE", `/api/tasks/${task.id}`, undefined, keyed(k));
    expect(first.status).toBe(204);
    const again = await api.as(user, "DELETE", `/api/tasks/${task.id}`, undefined, keyed(k));
    expect(again.status).toBe(204);
    expect(again.body).toBeUndefined();
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    // Without the key the same DELETE is a new request, and the task is gone.
    expect((await api.as(user, "DELETE", `/api/tasks/${task.id}`)).status).toBe(404);
  });

  test("a repeated conditional PUT gets its 200 again although its If-Match is stale by now", async () => {
    const user = newUser();
    const created = await api.as(user, "POST", "/api/tasks", { title: "v1" });
    const headers = keyed(key(), { "if-match": created.headers.get("etag")! });
    const first = await api.as(user, "PUT", `/api/tasks/${created.body.id}`, { title: "v2" }, headers);
    expect(first.status).toBe(200);
    const again = await api.as(user, "PUT", `/api/tasks/${created.body.id}`, { title: "v2" }, headers);
    expect(answerOf(again)).toEqual(answerOf(first));
  });

  test("white space in the JSON body does not make it another request", async () => {
    const user = newUser();
    const k = key();
    const first = await api.request("POST", "/api/tasks", {
      token: await tokenFor(user),
      body: '{"title":"spaced"}',
      headers: keyed(k),
    });
    const again = await api.request("POST", "/api/tasks", {
      token: await tokenFor(user),
      body: '{ "title" : "spaced" }\n',
      headers: keyed(k),
    });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.json()).toEqual(await first.json());
  });
});

describe("keys are checked", () => {
  test.each([
    ["another body", "POST", "/api/tasks", { title: "other" }],
    ["another method", "PUT", "/api/tasks/ID", { title: "same" }],
    ["another path", "PATCH", "/api/tasks/OTHER", { title: "same" }],
  ])("the same key with %s answers 422 and runs nothing", async (_, method, path, body) => {
    const user = newUser();
    const k = key();
    const task = (await api.as(user, "POST", "/api/tasks", { title: "same" })).body;
    const other = (await api.as(user, "POST", "/api/tasks", { title: "untouched" })).body;
    const first = await api.as(user, "PATCH", `/api/tasks/${task.id}`, { title: "same" }, keyed(k));
    expect(first.status).toBe(200);
    const res = await api.as(
      user,
      method,
      path.replace("OTHER", String(other.id)).replace("ID", String(task.id)),
      body,
      keyed(k),
    );
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ detail: "Idempotency-Key reused with a different request" });
    expect((await titles(user)).sort()).toEqual(["same", "untouched"]);
  });

  test("keys belong to their user: another user's equal key is unrelated", async () => {
    const [alice, bob] = [newUser("alice"), newUser("bob")];
    const k = key();
    const a = await api.as(alice, "POST", "/api/tasks", { title: "alice's" }, keyed(k));
    const b = await api.as(bob, "POST", "/api/tasks", { title: "bob's" }, keyed(k));
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.headers.get("idempotent-replayed")).toBeNull();
    expect(b.body.user_id).toBe(bob);
    expect(await titles(alice)).toEqual(["alice's"]);
    expect(await titles(bob)).toEqual(["bob's"]);
  });

  test.each([
    ["empty", ""],
    ["256 characters", "k".repeat(256)],
    ["a space inside", "two words"],
    ["a non-ASCII character", "cl\u00e9"],
    ["a control character", "a\u007fb"],
  ])("a key that is %s answers 422 in the validation shape and creates nothing", async (_, value) => {
    const user = newUser();
    const res = await api.as(user, "POST", "/api/tasks", { title: "x" }, keyed(value));
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      {
        loc: ["header", "idempotency-key"],
        msg: "Idempotency-Key must be 1 to 255 visible ASCII characters",
        type: "string_pattern_mismatch",
      },
    ]);
    expect(await titles(user)).toEqual([]);
  });

  test("a key of 255 visible ASCII characters, punctuation included, is accepted", async () => {
    const k = "!~\"'{}".padEnd(255, "z");
    expect((await api.as(newUser(), "POST", "/api/tasks", { title: "x" }, keyed(k))).status).toBe(201);
  });
});

describe("failures store nothing", () => {
  test("a request that failed validation (422) stores nothing: the same key then runs a valid request", async () => {
    const user = newUser();
    const k = key();
    expect((await api.as(user, "POST", "/api/tasks", { title: "" }, keyed(k))).status).toBe(422);
    expect(await storedKeys(user)).toEqual([]);
    const res = await api.as(user, "POST", "/api/tasks", { title: "valid" }, keyed(k));
    expect(res.status).toBe(201);
    expect(res.headers.get("idempotent-replayed")).toBeNull();
  });

  test("a request that failed with 404 or 412 stores nothing and its retry runs again", async () => {
    const user = newUser();
    const task = (await api.as(user, "POST", "/api/tasks", { title: "t" })).body;
    const stale = keyed(key(), { "if-match": `"${task.id}-999"` });
    expect((await api.as(user, "PUT", `/api/tasks/${task.id}`, { title: "u" }, stale)).status).toBe(412);
    const missing = keyed(key());
    expect((await api.as(user, "DELETE", "/api/tasks/999999999999", undefined, missing)).status).toBe(404);
    expect(await storedKeys(user)).toEqual([]);
    const retried = await api.as(
      user,
      "PUT",
      `/api/tasks/${task.id}`,
      { title: "u" },
      { "idempotency-key": stale["idempotency-key"] },
    );
    expect(retried.status).toBe(200);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
  });
});

describe("concurrency", () => {
  test("20 concurrent POSTs with one key create exactly one task; each gets that 201 or a 409", async () => {
    const user = newUser();
    const k = key();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => api.as(user, "POST", "/api/tasks", { title: "racing" }, keyed(k))),
    );
    const created = answers.filter((a) => a.status === 201);
    expect(answers.filter((a) => a.status !== 201 && a.status !== 409)).toEqual([]);
    for (const a of answers.filter((a) => a.status === 409))
      expect(a.body).toEqual({ detail: "A request with this Idempotency-Key is in progress" });
    expect(new Set(created.map((a) => a.body.id)).size).toBe(1);
    expect(created.filter((a) => a.headers.get("idempotent-replayed") === null).length).toBe(1);
    expect(await titles(user)).toEqual(["racing"]);
  }, 30_000);
});

describe("expiry", () => {
  test("a key is kept for IDEMPOTENCY_KEY_TTL_HOURS (24 by default) and, once expired, no longer replays", async () => {
    const user = newUser();
    const k = key();
    const longer = await buildApp({ idempotencyKeyTtlHours: 48 });
    await api.as(user, "POST", "/api/tasks", { title: "day" }, keyed(k));
    await longer.as(user, "POST", "/api/tasks", { title: "two days" }, keyed("second"));
    const hoursLeft = await query(
      sql`select key, extract(epoch from expires_at - now()) / 3600 as hours from idempotency_keys where user_id = ${user} order by hours`,
    );
    expect(hoursLeft.map((r) => [r.key, Math.round(Number(r.hours))])).toEqual([
      [k, 24],
      ["second", 48],
    ]);

    // As if a day had passed.
    await query(
      sql`update idempotency_keys set expires_at = now() - interval '1 second' where user_id = ${user} and key = ${k}`,
    );
    const again = await api.as(user, "POST", "/api/tasks", { title: "day" }, keyed(k));
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    expect(await titles(user)).toEqual(["day", "two days", "day"]);
    // The expired row was taken over by the new answer, with a fresh expiry.
    const [row] = await query(
      sql`select extract(epoch from expires_at - now()) / 3600 as hours from idempotency_keys where user_id = ${user} and key = ${k}`,
    );
    expect(Math.round(Number(row.hours))).toBe(24);
  });

  test("expired keys are deleted in bounded batches during normal keyed writes, without a cron job", async () => {
    const user = newUser();
    for (const title of ["a", "b", "c"]) await api.as(user, "POST", "/api/tasks", { title }, keyed(`old-${title}`));
    await query(sql`update idempotency_keys set expires_at = now() - interval '1 hour' where user_id = ${user}`);
    // A fresh app has not cleaned up yet; its first keyed write does, off the request's path.
    const fresh = await buildApp();
    expect((await fresh.as(user, "POST", "/api/tasks", { title: "new" }, keyed("new"))).status).toBe(201);
    const deadline = performance.now() + 5000;
    let left = await storedKeys(user);
    while (left.length > 1 && performance.now() < deadline) {
      await Bun.sleep(20);
      left = await storedKeys(user);
    }
    expect(left.map((r) => r.key)).toEqual(["new"]);
  });

  test("IDEMPOTENCY_KEY_TTL_HOURS must be an integer of at least 24", () => {
    expect(loadConfig({ BETTER_AUTH_SECRET: SECRET }).idempotencyKeyTtlHours).toBe(24);
    expect(loadConfig({ BETTER_AUTH_SECRET: SECRET, IDEMPOTENCY_KEY_TTL_HOURS: "72" }).idempotencyKeyTtlHours).toBe(72);
    for (const bad of ["23", "0", "1.5", "day"]) {
      expect(() => loadConfig({ BETTER_AUTH_SECRET: SECRET, IDEMPOTENCY_KEY_TTL_HOURS: bad })).toThrow(ConfigError);
    }
  });
});

describe("storage", () => {
  test("finding a user's key is one probe of the primary key", async () => {
    const plan = await database.read((db) =>
      db.transaction(async (tx) => {
        await tx.execute(sql`set local enable_seqscan = off`);
        return rowsOf(
          await tx.execute(
            sql`explain select status from idempotency_keys where user_id = 'u' and key = 'k' and expires_at > now()`,
          ),
        )
          .map((r) => r["QUERY PLAN"])
          .join("\n");
      }),
    );
    expect(plan).toContain("Index Scan using idempotency_keys_pkey");
  });

  test("the OpenAPI document declares the Idempotency-Key header on every write", async () => {
    const doc: any = await (await api.request("GET", "/openapi.json")).json();
    for (const [path, method] of [
      ["/api/tasks", "post"],
      ["/api/tasks/{id}", "put"],
      ["/api/tasks/{id}", "patch"],
      ["/api/tasks/{id}", "delete"],
    ] as const) {
      const names = (doc.paths[path][method].parameters ?? [])
        .filter((p: any) => p.in === "header")
        .map((p: any) => p.name);
      expect(names).toContain("idempotency-key");
    }
  });
});
