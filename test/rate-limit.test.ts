import { describe, expect, test } from "bun:test";
import { RateLimiter } from "../src/limits/rate-limit";
import { Tarpit } from "../src/limits/tarpit";
import { QueueTimeoutError, UserQueue } from "../src/limits/user-queue";

// A clock the test moves by hand, so refill is exact.
const clock = () => {
  const c = { ms: 0, now: () => c.ms };
  return c;
};

describe("RateLimiter", () => {
  test("allows a burst, refuses the next with Retry-After, and refills at the per-minute rate", () => {
    const c = clock();
    const limiter = new RateLimiter({ perMinute: 60, burst: 3, now: c.now });
    const answers = [1, 2, 3, 4].map(() => limiter.take("alice"));
    expect(answers.map((a) => a.allowed)).toEqual([true, true, true, false]);
    expect(answers.map((a) => a.headers.ratelimit)).toEqual([
      '"per-user";r=2;t=1',
      '"per-user";r=1;t=1',
      '"per-user";r=0;t=1',
      '"per-user";r=0;t=1',
    ]);
    expect(answers[0]!.headers["ratelimit-policy"]).toBe('"per-user";q=3;w=3');
    expect(answers[2]!.headers["retry-after"]).toBeUndefined();
    expect(answers[3]!.headers["retry-after"]).toBe("1");
    c.ms += 999;
    expect(limiter.take("alice").allowed).toBe(false);
    c.ms += 1;
    expect(limiter.take("alice").allowed).toBe(true);
  });

  test("says how long until the next token when the rate is slow", () => {
    const c = clock();
    const limiter = new RateLimiter({ perMinute: 2, burst: 1, now: c.now });
    expect(limiter.take("bob").allowed).toBe(true);
    c.ms += 10_000;
    const refused = limiter.take("bob");
    expect(refused.headers["retry-after"]).toBe("20");
    expect(refused.headers.ratelimit).toBe('"per-user";r=0;t=20');
    expect(refused.headers["ratelimit-policy"]).toBe('"per-user";q=1;w=30');
  });

  test("keeps each user's bucket apart", () => {
    const limiter = new RateLimiter({ perMinute: 60, burst: 1, now: () => 0 });
    expect(limiter.take("alice").allowed).toBe(true);
    expect(limiter.take("alice").allowed).toBe(false);
    expect(limiter.take("bob").allowed).toBe(true);
  });

  test("holds at most maxTracked buckets under a flood of distinct users", () => {
    const c = clock();
    const limiter = new RateLimiter({ perMinute: 60, burst: 10, maxTracked: 1000, now: c.now });
    for (let i = 0; i < 50_000; i++) {
      limiter.take(`user-${i}`);
      if (i % 1000 === 0) c.ms += 1;
    }
    expect(limiter.size).toBe(1000);
  });

  test("drops a full bucket before an older one that is still draining", () => {
    const c = clock();
    const limiter = new RateLimiter({ perMinute: 60, burst: 2, maxTracked: 3, now: c.now });
    limiter.take("bob");
    limiter.take("bob"); // empty, least recently used
    limiter.take("alice"); // 1 token left
    c.ms = 500;
    limiter.take("carol");
    c.ms = 1000; // bob has 1 token (draining), alice 2 (full)
    limiter.take("dave"); // the table is full: alice goes, though bob is older
    expect(limiter.take("bob").headers.ratelimit).toBe('"per-user";r=0;t=1');
    expect(limiter.take("alice").headers.ratelimit).toBe('"per-user";r=1;t=1');
    expect(limiter.size).toBe(3);
  });
});

describe("UserQueue", () => {
  test("runs at most `limit` per user, admits waiters in order, and never makes another user wait", async () => {
    const queue = new UserQueue(2, 1000);
    const order: number[] = [];
    const first = queue.acquire("alice") as () => void;
    const second = queue.acquire("alice") as () => void;
    const waiting = [3, 4].map((n) =>
      (queue.acquire("alice") as Promise<() => void>).then((release) => {
        order.push(n);
        return release;
      }),
    );
    expect(typeof queue.acquire("bob")).toBe("function");
    expect(queue.running("alice")).toBe(2);
    first();
    first(); // a second call does nothing
    const third = await waiting[0]!;
    expect(queue.running("alice")).toBe(2);
    second();
    (await waiting[1]!)();
    third();
    expect(order).toEqual([3, 4]);
    expect(queue.running("alice")).toBe(0);
    expect(queue.size).toBe(1); // bob still holds his slot; alice is forgotten
  });

  test("refuses a waiter after the queue timeout and forgets idle users", async () => {
    const queue = new UserQueue(1, 30);
    const release = queue.acquire("alice") as () => void;
    const error = await (queue.acquire("alice") as Promise<unknown>).catch((e) => e);
    expect(error).toBeInstanceOf(QueueTimeoutError);
    release();
    expect(queue.size).toBe(0);
  });
});

describe("strikes and the tarpit", () => {
  test("refusals in a row count as strikes, back to none once a take leaves a whole token", () => {
    const c = clock();
    const limiter = new RateLimiter({ perMinute: 60, burst: 2, now: c.now });
    const strikes = () => limiter.take("eve").strikes;
    expect([strikes(), strikes(), strikes(), strikes()]).toEqual([0, 0, 1, 2]);
    c.ms += 1000; // one token back: allowed, but the bucket is empty again, so still at the edge
    expect([strikes(), strikes()]).toEqual([2, 3]);
    c.ms += 2000; // waited as told: two tokens, one left after the take
    expect(strikes()).toBe(0);
  });

  test("holds only past `after` strikes, at most perUser per user and maxHeld in all, and forgets users", async () => {
    const tarpit = new Tarpit({ holdMs: 30, after: 2, perUser: 2, maxHeld: 3 });
    expect(tarpit.hold("a", 2)).toBeUndefined();
    const held = [tarpit.hold("a", 3), tarpit.hold("a", 4)];
    expect(held.every((h) => h instanceof Promise)).toBe(true);
    expect(tarpit.hold("a", 5)).toBeUndefined(); // a's bound
    const b = tarpit.hold("b", 3);
    expect(b).toBeInstanceOf(Promise);
    expect(tarpit.hold("c", 3)).toBeUndefined(); // the bound of all
    expect([tarpit.held, tarpit.size]).toEqual([3, 2]);
    const started = performance.now();
    await Promise.all([...held, b]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect([tarpit.held, tarpit.size]).toEqual([0, 0]);
  });
});
