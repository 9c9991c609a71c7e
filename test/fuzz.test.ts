// Thousands of random requests (bodies, headers, query strings, paths) through the real app:
// never a 5xx, and every 4xx says why in `detail`.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { buildApp, newUser, tokenFor } from "./support/app";
import { expectNoLeaks } from "./support/hygiene";

const RUNS = 4000;

const printable = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });
const oddNumbers = fc.constantFrom(
  "0",
  "1",
  "00",
  "-1",
  "1e3",
  "0x10",
  " 12",
  "1.5",
  "NaN",
  "Infinity",
  "999999999999999",
  "9999999999999999999999",
  "",
);
const idSegment = (ids: number[]) =>
  fc.oneof(
    fc.constantFrom(...ids).map(String),
    fc.integer({ min: -10, max: 2_000_000 }).map(String),
    oddNumbers,
    fc.string({ maxLength: 20 }),
    fc.constantFrom("..", "%00", "%2e%2e", "%ZZ"),
  );
const path = (ids: number[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom("/api/tasks", "/api/tasks/") },
    { weight: 4, arbitrary: idSegment(ids).map((s) => `/api/tasks/${/^%/.test(s) ? s : encodeURIComponent(s)}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "/health",
        "/health/ready",
        "/openapi.json",
        "/api",
        "/api/tasks/1/extra",
        "//api/tasks",
        "/API/TASKS",
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.string({ maxLength: 10 }), { maxLength: 4 })
        .map((parts) => "/" + parts.map(encodeURIComponent).join("/")),
    },
  );
const query = fc
  .dictionary(
    fc.oneof(fc.constantFrom("status", "limit", "offset", "sort"), fc.string({ maxLength: 8 })),
    fc.oneof(
      fc.string({ maxLength: 20 }),
      oddNumbers,
      fc.constantFrom("pending", "completed", "created_at", "-title", "updated_at", "500", "501"),
    ),
    { maxKeys: 4 },
  )
  .map((d) => new URLSearchParams(d).toString());
// Objects that shadow what string conversion relies on: {"title": {"toString": false}} once made a 500.
const hostile = fc.dictionary(
  fc.constantFrom("toString", "valueOf", "toJSON", "constructor", "__proto__", "length"),
  fc.jsonValue({ maxDepth: 1 }),
  { minKeys: 1, maxKeys: 3 },
);
const taskLike = fc.record(
  {
    title: fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.constant("x".repeat(256)),
      fc.constant(" \u0000 "),
      fc.jsonValue(),
      hostile,
    ),
    description: fc.oneof(fc.constant(null), fc.string({ maxLength: 100 }), fc.jsonValue(), hostile),
    status: fc.oneof(fc.constantFrom("pending", "in_progress", "completed", "archived"), fc.jsonValue(), hostile),
    user_id: fc.string({ maxLength: 10 }),
    id: fc.jsonValue(),
  },
  { requiredKeys: [] },
);
const validTask = fc.record(
  {
    title: fc.string({ minLength: 1, maxLength: 255 }).filter((t) => t.trim().length > 0 && !t.includes("\u0000")),
    description: fc.option(fc.string({ maxLength: 200 }).filter((t) => !t.includes("\u0000"))),
    status: fc.constantFrom("pending", "in_progress", "completed"),
  },
  { requiredKeys: ["title"] },
);
const body = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: validTask.map((v) => JSON.stringify(v)) },
  { weight: 5, arbitrary: taskLike.map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.string({ maxLength: 100 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 100 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{"title": "x"',
      "[]",
      "null",
      '{"title": "a", "title": 1}',
      "{".repeat(2000),
      `{"title": "${"y".repeat(70 * 1024)}"}`,
    ),
  },
);

describe("bad input at scale", () => {
  test(`${RUNS} random requests: no 5xx, and every 4xx carries a detail`, async () => {
    const api = await buildApp();
    const user = newUser("fuzz");
    const token = await tokenFor(user);
    const expired = await tokenFor(user, { expiresIn: -3600 });
    const ids: number[] = [];
    for (let i = 0; i < 20; i++) ids.push((await api.as(user, "POST", "/api/tasks", { title: `seed ${i}` })).body.id);
    const authorization = fc.oneof(
      { weight: 12, arbitrary: fc.constant(`Bearer ${token}`) },
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constant(`Bearer ${expired}`) },
      { weight: 1, arbitrary: printable(60).map((v) => `Bearer ${v}`) },
      { weight: 1, arbitrary: printable(60) },
    );
    const request = fc.record({
      method: fc.constantFrom("GET", "GET", "POST", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"),
      path: path(ids),
      query,
      body,
      authorization,
      contentType: fc.oneof(
        { weight: 4, arbitrary: fc.constant("application/json") },
        fc.constantFrom(
          "application/json",
          "application/json; charset=utf-8",
          "text/plain",
          "application/x-www-form-urlencoded",
          "multipart/form-data",
          undefined,
        ),
        printable(30),
      ),
      ifMatch: fc.option(fc.oneof(printable(20), fc.constantFrom("*", '"1-1"', 'W/"1-1"', '"x"'))),
      requestId: fc.option(printable(140)),
    });

    const counts: Record<string, number> = {};
    const answers: string[] = [];
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = {};
        if (r.authorization !== undefined) headers.authorization = r.authorization;
        if (r.contentType !== undefined) headers["content-type"] = r.contentType;
        if (r.ifMatch !== null) headers["if-match"] = r.ifMatch;
        if (r.requestId !== null) headers["x-request-id"] = r.requestId;
        const hasBody = r.method !== "GET" && r.method !== "HEAD" && r.body !== undefined;
        const res = await api.request(r.method, `${r.path}${r.query ? `?${r.query}` : ""}`, {
          headers,
          body: hasBody ? r.body : undefined,
        });
        const text = await res.text();
        counts[res.status] = (counts[res.status] ?? 0) + 1;
        if (res.status >= 400) answers.push(text);
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400 && r.method !== "HEAD") {
          const detail = JSON.parse(text).detail;
          expect(
            typeof detail === "string" ? detail.length : Array.isArray(detail) ? detail.length : 0,
          ).toBeGreaterThan(0);
        }
      }),
      { numRuns: RUNS },
    );

    await api.settled();
    const summary = Object.entries(counts)
      .sort()
      .map(([status, n]) => `${n} x ${status}`)
      .join(", ");
    const classes = (lo: number) =>
      Object.entries(counts)
        .filter(([s]) => Number(s) >= lo && Number(s) < lo + 100)
        .reduce((a, [, n]) => a + n, 0);
    console.log(`fuzz: ${RUNS} requests: ${classes(200)} 2xx, ${classes(400)} 4xx, ${classes(500)} 5xx (${summary})`);
    expect(api.logs.filter((l) => l.level === "error")).toEqual([]);
    expectNoLeaks({ answers, logs: api.logs.map((l) => JSON.stringify(l)), secrets: [token, expired] });
  }, 120_000);
});
