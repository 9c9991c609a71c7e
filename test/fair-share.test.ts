import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import type { Database } from "../src/db/client";
import { tasks } from "../src/db/schema";
import { testDatabase } from "./setup";
import { buildApp, newUser, type TestApp } from "./support/app";

let shared: Database;
beforeAll(async () => {
  shared = await testDatabase();
}, 30_000);

describe("rate limit per user", () => {
  let api: TestApp;
  // The buckets run on this clock, so a slow machine cannot refill a token between two requests.
  let now = 0;
  beforeAll(async () => {
    // 600 a minute: a token every 100 ms.
    api = await buildApp({
      database: shared,
      fairShare: { rateLimitPerMinute: 600, rateLimitBurst: 3, userConcurrency: 0 },
      clock: () => now,
    });
  });

  test("answers 429 with Retry-After and the RateLimit headers once the burst is spent, and recovers", async () => {
    const user = newUser();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await api.as(user, "GET", "/api/tasks"));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    expect(answers.map((a) => a.headers.get("ratelimit"))).toEqual([
      '"per-user";r=2;t=1',
      '"per-user";r=1;t=1',
      '"per-user";r=0;t=1',
      '"per-user";r=0;t=1',
    ]);
    const refused = answers[3]!;
    expect(refused.body).toEqual({ detail: "Too many requests" });
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.headers.get("ratelimit-policy")).toBe('"per-user";q=3;w=1');
    now += 120;
    expect((await api.as(user, "GET", "/api/tasks")).status).toBe(200);
  });

  test("a refused request runs nothing", async () => {
    const user = newUser();
    for (let i = 0; i < 3; i++) expect((await api.as(user, "POST", "/api/tasks", { title: `t${i}` })).status).toBe(201);
    expect((await api.as(user, "POST", "/api/tasks", { title: "one too many" })).status).toBe(429);
    now += 120;
    const list = await api.as(user, "GET", "/api/tasks");
    expect(list.body.map((t: { title: string }) => t.title).sort()).toEqual(["t0", "t1", "t2"]);
  });

  test("each user has a budget of their own", async () => {
    const greedy = newUser("greedy");
    for (let i = 0; i < 5; i++) await api.as(greedy, "GET", "/api/tasks");
    expect((await api.as(greedy, "GET", "/api/tasks")).status).toBe(429);
    const other = await api.as(newUser("other"), "GET", "/api/tasks");
    expect(other.status).toBe(200);
    expect(other.headers.get("ratelimit")).toBe('"per-user";r=2;t=1');
  });

  test("every authenticated answer carries the headers, errors included; a 401 does not", async () => {
    const user = newUser();
    const answers = [
      await api.as(user, "GET", "/api/tasks/999999999"),
      await api.as(user, "GET", "/api/tasks?limit=0"),
    ];
    expect(answers.map((a) => a.status)).toEqual([404, 422]);
    for (const a of answers) {
      expect(a.headers.get("ratelimit-policy")).toBe('"per-user";q=3;w=1');
      expect(a.headers.get("ratelimit")).toMatch(/^"per-user";r=\d+;t=\d+$/);
    }
    const anonymous = await api.request("GET", "/api/tasks");
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("ratelimit")).toBeNull();
  });

  test("RATE_LIMIT_PER_MINUTE=0 turns it off, headers included", async () => {
    const off = await buildApp({ database: shared, fairShare: { rateLimitPerMinute: 0, rateLimitBurst: 1 } });
    const user = newUser();
    for (let i = 0; i < 5; i++) {
      const res = await off.as(user, "GET", "/api/tasks");
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit")).toBeNull();
    }
  });
});

describe("a user who keeps sending past the rate limit", () => {
  test("gets the refusals after the first 10 in a row held RATE_LIMIT_TARPIT_MS, with the 429's headers, nothing run, and nobody else waits", async () => {
    const now = 0; // the buckets' clock stands still: no token comes back during the test
    const api = await buildApp({
      database: shared,
      fairShare: { rateLimitPerMinute: 600, rateLimitBurst: 2, rateLimitTarpitMs: 400, userConcurrency: 0 },
      clock: () => now,
    });
    const greedy = newUser("hammer");
    const timed = async (user: string, method: string, path: string, body?: unknown) => {
      const started = performance.now();
      const res = await api.as(user, method, path, body);
      return { res, ms: performance.now() - started };
    };
    for (let i = 0; i < 2; i++) expect((await timed(greedy, "GET", "/api/tasks")).res.status).toBe(200);
    // The first ten refusals in a row come back at once.
    for (let i = 0; i < 10; i++) {
      const { res, ms } = await timed(greedy, "GET", "/api/tasks");
      expect(res.status).toBe(429);
      expect(ms).toBeLessThan(300);
    }
    // The next ones are held; meanwhile another user is answered at once.
    const held = [timed(greedy, "POST", "/api/tasks", { title: "held" }), timed(greedy, "GET", "/api/tasks")];
    await Bun.sleep(50);
    const other = await timed(newUser("bystander"), "GET", "/api/tasks");
    expect(other.res.status).toBe(200);
    expect(other.ms).toBeLessThan(300);
    for (const { res, ms } of await Promise.all(held)) {
      expect(res.status).toBe(429);
      expect(ms).toBeGreaterThanOrEqual(390);
      expect(res.body).toEqual({ detail: "Too many requests" });
      expect(res.headers.get("retry-after")).toBe("1");
      expect(res.headers.get("ratelimit")).toBe('"per-user";r=0;t=1');
      expect(res.headers.get("ratelimit-policy")).toBe('"per-user";q=2;w=1');
    }
    // The held POST created nothing.
    const rows = await shared.read((db) => db.select().from(tasks).where(eq(tasks.userId, greedy)));
    expect(rows).toEqual([]);
  });

  test("RATE_LIMIT_TARPIT_MS=0 answers every refusal at once", async () => {
    const api = await buildApp({
      database: shared,
      fairShare: { rateLimitPerMinute: 600, rateLimitBurst: 1, rateLimitTarpitMs: 0, userConcurrency: 0 },
      clock: () => 0,
    });
    const user = newUser();
    expect((await api.as(user, "GET", "/api/tasks")).status).toBe(200);
    const started = performance.now();
    for (let i = 0; i < 20; i++) expect((await api.as(user, "GET", "/api/tasks")).status).toBe(429);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

/**
 * The shared database behind a guard of `permits` (a small pool), whose admitted work holds its permit
 * for `holdMs` more: slow queries on a busy pool. Counts admitted work in flight.
 */
function slowPool(permits: number, holdMs: number) {
  let free = permits;
  const waiting: (() => void)[] = [];
  const stats = { inFlight: 0, maxInFlight: 0 };
  const admitted = async <T>(work: () => Promise<T>): Promise<T> => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    stats.maxInFlight = Math.max(stats.maxInFlight, ++stats.inFlight);
    try {
      await Bun.sleep(holdMs);
      return await work();
    } finally {
      stats.inFlight--;
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
  const database: Database = {
    ...shared,
    read: (work) => admitted(() => shared.read(work)),
    write: (work) => admitted(() => shared.write(work)),
  };
  return { database, stats };
}

describe("concurrency per user", () => {
  test("50 parallel requests of one user never run more than USER_CONCURRENCY at once; another user's request is not held up", async () => {
    const { database, stats } = slowPool(3, 60);
    const api = await buildApp({
      database,
      fairShare: { rateLimitPerMinute: 0, userConcurrency: 2, userQueueTimeoutMs: 10_000 },
    });
    const noisy = newUser("noisy");
    const quiet = newUser("quiet");

    let started = performance.now();
    expect((await api.as(quiet, "GET", "/api/tasks")).status).toBe(200);
    const alone = performance.now() - started;

    const flood = Array.from({ length: 50 }, () => api.as(noisy, "GET", "/api/tasks"));
    await Bun.sleep(20);
    started = performance.now();
    expect((await api.as(quiet, "GET", "/api/tasks")).status).toBe(200);
    const beside = performance.now() - started;
    const noisyPeak = stats.maxInFlight;

    expect((await Promise.all(flood)).map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(noisyPeak).toBeLessThanOrEqual(3); // two of the noisy user's, one of the quiet user's
    expect(stats.maxInFlight).toBeLessThanOrEqual(3);
    // Without the per-user queue the quiet request would wait behind ~48 others on 3 permits (~950 ms).
    expect(beside).toBeLessThan(alone + 300);
  });

  test("the noisy user's own requests run two at a time", async () => {
    const { database, stats } = slowPool(10, 30);
    const api = await buildApp({
      database,
      fairShare: { rateLimitPerMinute: 0, userConcurrency: 2, userQueueTimeoutMs: 10_000 },
    });
    const user = newUser();
    const answers = await Promise.all(Array.from({ length: 50 }, () => api.as(user, "GET", "/api/tasks")));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(stats.maxInFlight).toBe(2);
  });

  test("a request queued past the queue timeout answers 429 with Retry-After", async () => {
    const { database } = slowPool(10, 300);
    const api = await buildApp({
      database,
      fairShare: { rateLimitPerMinute: 0, userConcurrency: 1, userQueueTimeoutMs: 50 },
    });
    const user = newUser();
    const answers = await Promise.all([1, 2, 3].map(() => api.as(user, "GET", "/api/tasks")));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 429, 429]);
    const refused = answers.find((a) => a.status === 429)!;
    expect(refused.body).toEqual({ detail: "Too many requests" });
    expect(refused.headers.get("retry-after")).toBe("1");
  });

  test("a slot is given back after every kind of answer, errors included", async () => {
    const api = await buildApp({
      database: shared,
      fairShare: { rateLimitPerMinute: 0, userConcurrency: 1, userQueueTimeoutMs: 200 },
    });
    const user = newUser();
    const statuses = [];
    statuses.push((await api.as(user, "GET", "/api/tasks/999999999")).status);
    statuses.push((await api.as(user, "GET", "/api/tasks?limit=0")).status);
    statuses.push((await api.as(user, "POST", "/api/tasks", "{not json")).status);
    statuses.push((await api.as(user, "POST", "/api/tasks", { title: "ok" })).status);
    statuses.push((await api.as(user, "GET", "/api/tasks")).status);
    expect(statuses).toEqual([404, 422, 422, 201, 200]);
  });
});
