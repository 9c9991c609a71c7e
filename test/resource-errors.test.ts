import { beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import type { Database } from "../src/db/client";
import { testDatabase } from "./setup";
import { buildApp, newUser, type TestApp } from "./support/app";

let api: TestApp;
beforeAll(async () => {
  const shared = await testDatabase();
  // The real server refusing writes (SQLSTATE 25006), as a read-only replica or a full disk does.
  const readOnly: Database = {
    ...shared,
    write: (work) =>
      shared.write((db) =>
        db.transaction(async (tx) => {
          await tx.execute(sql`set transaction read only`);
          return work(tx as never);
        }),
      ),
  };
  api = await buildApp({ database: readOnly, fairShare: { rateLimitPerMinute: 0, userConcurrency: 0 } });
}, 30_000);

describe("database resource errors", () => {
  test("a database that refuses writes answers 503 with Retry-After, logged once per burst without a stack", async () => {
    const user = newUser();
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await api.as(user, "POST", "/api/tasks", { title: `t${i}` }));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(503));
    expect(answers[0]!.body).toEqual({ detail: "Database unavailable" });
    expect(answers[0]!.headers.get("retry-after")).toMatch(/^\d+$/);
    const errors = api.logs.filter((l) => l.level === "error");
    expect(errors.length).toBeLessThanOrEqual(1);
    expect(errors.some((l) => "stack" in l)).toBe(false);
  });
});
