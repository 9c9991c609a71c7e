// A keyed write commits, its answer never reaches the client, and the database goes down: the client
// retries with its key through the outage and after recovery, and ends with exactly one task.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import type { Database } from "../src/db/client";
import { newUser, type TestApp } from "./support/app";
import { clusterAvailable, type TempCluster } from "./support/cluster";
import { startClusterApp, stopClusterApp } from "./support/cluster-app";
import { CLUSTER, missing } from "./support/requires";

let cluster: TempCluster;
let database: Database;
let api: TestApp;

describe.skipIf(missing(clusterAvailable, CLUSTER))("Idempotency-Key across a database outage", () => {
  beforeAll(async () => {
    ({ cluster, database, api } = await startClusterApp());
  }, 60_000);

  afterAll(async () => {
    await stopClusterApp({ cluster, database });
  }, 30_000);

  test("the write commits, the answer is lost, PostgreSQL stops; retries get 503 during the outage and the stored 201 after it, and one task exists", async () => {
    const user = newUser();
    const key = crypto.randomUUID();
    const send = () => api.as(user, "POST", "/api/tasks", { title: "exactly once" }, { "idempotency-key": key });
    const admin = postgres(cluster.url, { max: 2, onnotice: () => {} });
    const count = async () => Number((await admin`select count(*)::int as n from tasks where user_id = ${user}`)[0]!.n);

    // Hold the write just before its commit, so the test can cut the database off right after it.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const locking = admin.begin(async (sql) => {
      await sql`lock table idempotency_keys in exclusive mode`;
      await held;
    });
    await Bun.sleep(100);
    const first = send(); // the client never sees this answer
    await Bun.sleep(200);
    expect(await count()).toBe(0);
    release();
    await locking;
    for (let i = 0; i < 200 && (await count()) === 0; i++) await Bun.sleep(10);
    expect(await count()).toBe(1);
    await admin.end({ timeout: 1 });
    cluster.stop("immediate");
    void first.catch(() => {});

    const during = await send();
    expect(during.status).toBe(503);

    cluster.start();
    let after = await send();
    for (let i = 0; i < 100 && after.status === 503; i++) {
      await Bun.sleep(50);
      after = await send();
    }
    expect(after.status).toBe(201);
    expect(after.headers.get("idempotent-replayed")).toBe("true");
    const listed = await api.as(user, "GET", "/api/tasks");
    expect(listed.body.map((t: any) => [t.id, t.title])).toEqual([[after.body.id, "exactly once"]]);
  }, 60_000);
});
