import { beforeAll, describe, expect, test } from "bun:test";
import { buildApp, newUser, type TestApp, tokenFor } from "./support/app";

let api: TestApp;
// The first file to ask starts the run's database, which takes a few seconds on a cold PGlite.
beforeAll(async () => {
  api = await buildApp();
}, 30_000);

const create = async (user: string, body: Record<string, unknown> = { title: "A task" }) => {
  const res = await api.as(user, "POST", "/api/tasks", body);
  expect(res.status).toBe(201);
  return res.body as {
    id: number;
    title: string;
    description: string | null;
    status: string;
    user_id: string;
    created_at: string;
    updated_at: string;
  };
};

describe("POST /api/tasks", () => {
  test("creates a task owned by the token's user and answers 201 with Location and ETag", async () => {
    const alice = newUser("alice");
    const res = await api.as(alice, "POST", "/api/tasks", {
      title: "Write report",
      description: "Q3 numbers",
      status: "in_progress",
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      title: "Write report",
      description: "Q3 numbers",
      status: "in_progress",
      user_id: alice,
    });
    expect(Number.isInteger(res.body.id)).toBe(true);
    expect(res.headers.get("location")).toBe(`/api/tasks/${res.body.id}`);
    expect(res.headers.get("etag")).toMatch(/^"\d+-\d+"$/);
    expect(res.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(res.body.updated_at).toBe(res.body.created_at);
  });

  test("defaults status to pending and description to null, and trims the title", async () => {
    const task = await create(newUser(), { title: "  Buy milk \n" });
    expect(task).toMatchObject({ title: "Buy milk", status: "pending", description: null });
  });

  test("persists every field: a later GET returns what was created", async () => {
    const user = newUser();
    const task = await create(user, { title: "Persisted", description: "all fields", status: "completed" });
    const res = await api.as(user, "GET", `/api/tasks/${task.id}`);
    expect(res.body).toEqual(task);
  });

  test("accepts a 255-character title and a 10,000-character description", async () => {
    const task = await create(newUser(), { title: "t".repeat(255), description: "d".repeat(10_000) });
    expect(task.title.length).toBe(255);
    expect(task.description!.length).toBe(10_000);
  });

  test.each([
    ["a missing title", {}, ["body", "title"], "missing"],
    ["an empty title", { title: "" }, ["body", "title"], "string_pattern_mismatch"],
    ["a blank title", { title: "   " }, ["body", "title"], "string_pattern_mismatch"],
    ["a 256-character title", { title: "t".repeat(256) }, ["body", "title"], "string_pattern_mismatch"],
    ["a numeric title", { title: 5 }, ["body", "title"], "string_type"],
    [
      "a 10,001-character description",
      { title: "x", description: "d".repeat(10_001) },
      ["body", "description"],
      "value_error",
    ],
    ["an unknown status", { title: "x", status: "done" }, ["body", "status"], "value_error"],
    ["a user_id field", { title: "x", user_id: "mallory" }, ["body", "user_id"], "extra_forbidden"],
    ["an id field", { title: "x", id: 7 }, ["body", "id"], "extra_forbidden"],
    // Found by the fuzz test: values that cannot be turned into a string once broke the error message (500).
    [
      "an object title whose toString is not a function",
      { title: { toString: false } },
      ["body", "title"],
      "string_type",
    ],
    [
      "an object status whose valueOf is not a function",
      { title: "x", status: { valueOf: 1, toString: null } },
      ["body", "status"],
      "value_error",
    ],
    ["an object description", { title: "x", description: { toString: false } }, ["body", "description"], "value_error"],
  ])("rejects %s with 422 naming the field", async (_, body, loc, type) => {
    const res = await api.as(newUser(), "POST", "/api/tasks", body);
    expect(res.status).toBe(422);
    expect(res.body.detail).toContainEqual(expect.objectContaining({ loc, type, msg: expect.any(String) }));
  });

  test("rejects a body that is not a JSON object with 422", async () => {
    for (const body of ["[1,2]", '"title"', "null", "42"]) {
      const res = await api.as(newUser(), "POST", "/api/tasks", body);
      expect(res.status).toBe(422);
      expect(res.body.detail[0].loc[0]).toBe("body");
    }
  });

  test("answers malformed JSON with 422 json_invalid, not 500", async () => {
    const res = await api.as(newUser(), "POST", "/api/tasks", '{"title": "x",');
    expect(res.status).toBe(422);
    expect(res.body.detail[0]).toMatchObject({ loc: ["body"], type: "json_invalid" });
  });

  test("answers a body over 64 KiB with 413 and stores nothing", async () => {
    const user = newUser();
    const res = await api.as(user, "POST", "/api/tasks", { title: "big", description: "d".repeat(70_000) });
    expect(res.status).toBe(413);
    expect(res.body.detail).toContain("65536");
    expect((await api.as(user, "GET", "/api/tasks")).body).toEqual([]);
  });

  test("a declared body over 64 KiB is refused with 413 before the token is looked at, on every write", async () => {
    const big = JSON.stringify({ title: "big", description: "d".repeat(70_000) });
    for (const [method, path] of [
      ["POST", "/api/tasks"],
      ["PUT", "/api/tasks/1"],
      ["PATCH", "/api/tasks/1"],
    ] as const) {
      const res = await api.request(method, path, {
        body: big,
        headers: { "content-length": String(big.length), "x-request-id": `req-413-${method}` },
      });
      expect(`${method} ${res.status}`).toBe(`${method} 413`);
      expect(res.headers.get("x-request-id")).toBe(`req-413-${method}`);
      expect(((await res.json()) as { detail: string }).detail).toContain("65536");
    }
  });

  test("the write routes read the body without asking for request.body (Bun would build a stream for it)", async () => {
    const user = newUser();
    const token = await tokenFor(user);
    const { id } = await create(user, { title: "to change" });
    const bodyOf = Object.getOwnPropertyDescriptor(Request.prototype, "body")!.get!;
    for (const [method, path, status] of [
      ["POST", "/api/tasks", 201],
      ["PUT", `/api/tasks/${id}`, 200],
      ["PATCH", `/api/tasks/${id}`, 200],
    ] as const) {
      const request = new Request(`http://localhost${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ title: `${method} title` }),
      });
      let asked = 0;
      Object.defineProperty(request, "body", {
        get() {
          asked++;
          return bodyOf.call(this);
        },
      });
      const res = await api.handle(request);
      expect(`${method} ${res.status} ${asked}`).toBe(`${method} ${status} 0`);
      expect(((await res.json()) as { title: string }).title).toBe(`${method} title`);
    }
  });

  test("an empty body with a JSON Content-Type is no body: 422, nothing stored", async () => {
    const user = newUser();
    const res = await api.request("POST", "/api/tasks", { token: await tokenFor(user), body: "" });
    expect(res.status).toBe(422);
    expect((await api.as(user, "GET", "/api/tasks")).body).toEqual([]);
  });

  test("rejects a NUL character in the title with 422 instead of a database error", async () => {
    const res = await api.as(newUser(), "POST", "/api/tasks", { title: "a\u0000b" });
    expect(res.status).toBe(422);
  });
});

describe("GET /api/tasks", () => {
  test("lists only the caller's tasks, newest first, with X-Total-Count", async () => {
    const alice = newUser("alice");
    const bob = newUser("bob");
    const first = await create(alice, { title: "first" });
    const second = await create(alice, { title: "second" });
    await create(bob, { title: "bob's" });
    const res = await api.as(alice, "GET", "/api/tasks");
    expect(res.status).toBe(200);
    expect(res.body.map((t: any) => t.id)).toEqual([second.id, first.id]);
    expect(res.body.every((t: any) => t.user_id === alice)).toBe(true);
    expect(res.headers.get("x-total-count")).toBe("2");
  });

  test("a user with no tasks gets an empty list and X-Total-Count 0", async () => {
    const res = await api.as(newUser(), "GET", "/api/tasks");
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
    expect(res.headers.get("x-total-count")).toBe("0");
  });

  test("filters by status, and X-Total-Count counts only matching tasks", async () => {
    const user = newUser();
    await create(user, { title: "a", status: "completed" });
    await create(user, { title: "b" });
    await create(user, { title: "c", status: "completed" });
    const res = await api.as(user, "GET", "/api/tasks?status=completed");
    expect(res.body.map((t: any) => t.title)).toEqual(["c", "a"]);
    expect(res.headers.get("x-total-count")).toBe("2");
  });

  test("pages with limit and offset while X-Total-Count stays the full count", async () => {
    const user = newUser();
    for (const title of ["1", "2", "3", "4", "5"]) await create(user, { title });
    const page = await api.as(user, "GET", "/api/tasks?limit=2&offset=1");
    expect(page.body.map((t: any) => t.title)).toEqual(["4", "3"]);
    expect(page.headers.get("x-total-count")).toBe("5");
    const past = await api.as(user, "GET", "/api/tasks?limit=2&offset=10");
    expect(past.body).toEqual([]);
    expect(past.headers.get("x-total-count")).toBe("5");
  });

  test("sorts by title, created_at and updated_at in both directions", async () => {
    const user = newUser();
    const b = await create(user, { title: "banana" });
    await create(user, { title: "apple" });
    await create(user, { title: "cherry" });
    await api.as(user, "PUT", `/api/tasks/${b.id}`, { status: "completed" });
    const order = async (sort: string) =>
      (await api.as(user, "GET", `/api/tasks?sort=${sort}`)).body.map((t: any) => t.title);
    expect(await order("title")).toEqual(["apple", "banana", "cherry"]);
    expect(await order("-title")).toEqual(["cherry", "banana", "apple"]);
    expect(await order("created_at")).toEqual(["banana", "apple", "cherry"]);
    expect(await order("-created_at")).toEqual(["cherry", "apple", "banana"]);
    expect((await order("-updated_at"))[0]).toBe("banana");
    expect((await order("updated_at"))[2]).toBe("banana");
  });

  test.each([
    ["limit=0", "limit"],
    ["limit=501", "limit"],
    ["limit=abc", "limit"],
    ["limit=1.5", "limit"],
    ["offset=-1", "offset"],
    ["status=done", "status"],
    ["sort=priority", "sort"],
    ["page=2", "page"],
  ])("rejects ?%s with 422 naming the query parameter", async (query, name) => {
    const res = await api.as(newUser(), "GET", `/api/tasks?${query}`);
    expect(res.status).toBe(422);
    expect(res.body.detail).toContainEqual(expect.objectContaining({ loc: ["query", name] }));
  });

  test("accepts the limits 1 and 500", async () => {
    expect((await api.as(newUser(), "GET", "/api/tasks?limit=1")).status).toBe(200);
    expect((await api.as(newUser(), "GET", "/api/tasks?limit=500")).status).toBe(200);
  });
});

describe("GET /api/tasks/:id", () => {
  test("returns the caller's task with an ETag", async () => {
    const user = newUser();
    const task = await create(user);
    const res = await api.as(user, "GET", `/api/tasks/${task.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(task);
    expect(res.headers.get("etag")).toBe(`"${task.id}-1"`);
  });

  test("another user's task answers exactly as a missing one: 404 Task not found", async () => {
    const owner = newUser();
    const task = await create(owner);
    const foreign = await api.as(newUser(), "GET", `/api/tasks/${task.id}`);
    const missing = await api.as(newUser(), "GET", "/api/tasks/999999999999");
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual({ detail: "Task not found" });
    expect(missing.body).toEqual(foreign.body);
    const names = (h: Headers) => [...h.keys()].filter((k) => k !== "x-request-id").sort();
    expect(names(foreign.headers)).toEqual(names(missing.headers));
    expect(foreign.headers.get("content-length")).toBe(missing.headers.get("content-length"));
  });

  test.each(["abc", "0", "-1", "1.5", "0x10", "1e3", "1234567890123456"])(
    "rejects the id %s with 422 on the path",
    async (id) => {
      const res = await api.as(newUser(), "GET", `/api/tasks/${id}`);
      expect(res.status).toBe(422);
      expect(res.body.detail[0].loc).toEqual(["path", "id"]);
    },
  );
});

describe("PUT and PATCH /api/tasks/:id", () => {
  test("updates only the given fields, moves updated_at and keeps created_at", async () => {
    const user = newUser();
    const task = await create(user, { title: "draft", description: "keep me" });
    const res = await api.as(user, "PUT", `/api/tasks/${task.id}`, { status: "completed" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: task.id,
      title: "draft",
      description: "keep me",
      status: "completed",
      created_at: task.created_at,
    });
    expect(Date.parse(res.body.updated_at)).toBeGreaterThan(Date.parse(task.updated_at));
    expect((await api.as(user, "GET", `/api/tasks/${task.id}`)).body).toEqual(res.body);
  });

  test("PATCH behaves like PUT, and null clears the description", async () => {
    const user = newUser();
    const task = await create(user, { title: "x", description: "gone soon" });
    const res = await api.as(user, "PATCH", `/api/tasks/${task.id}`, { description: null, title: " renamed " });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ description: null, title: "renamed" });
  });

  test("updated_at moves on every change, even several within one millisecond", async () => {
    const user = newUser();
    const task = await create(user);
    const stamps = [task.updated_at];
    for (let i = 0; i < 3; i++)
      stamps.push((await api.as(user, "PUT", `/api/tasks/${task.id}`, { title: `v${i}` })).body.updated_at);
    for (let i = 1; i < stamps.length; i++) expect(Date.parse(stamps[i]!)).toBeGreaterThan(Date.parse(stamps[i - 1]!));
  });

  test("rejects an empty update, unknown fields and bad values with 422", async () => {
    const user = newUser();
    const task = await create(user);
    for (const body of [{}, { user_id: "mallory" }, { title: "" }, { status: "archived" }, { title: null }]) {
      const res = await api.as(user, "PUT", `/api/tasks/${task.id}`, body);
      expect(res.status).toBe(422);
      expect(Array.isArray(res.body.detail)).toBe(true);
    }
    expect((await api.as(user, "GET", `/api/tasks/${task.id}`)).body).toEqual(task);
  });

  test("cannot move a task to another user: user_id in the body is rejected and ownership stays", async () => {
    const owner = newUser();
    const task = await create(owner);
    const res = await api.as(owner, "PUT", `/api/tasks/${task.id}`, { title: "mine", user_id: newUser() });
    expect(res.status).toBe(422);
    expect((await api.as(owner, "GET", `/api/tasks/${task.id}`)).body.user_id).toBe(owner);
  });

  test("another user's task answers 404 and is not changed", async () => {
    const owner = newUser();
    const task = await create(owner, { title: "original" });
    const res = await api.as(newUser(), "PUT", `/api/tasks/${task.id}`, { title: "hijacked" });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ detail: "Task not found" });
    expect((await api.as(owner, "GET", `/api/tasks/${task.id}`)).body.title).toBe("original");
  });

  test("with a current If-Match it updates; with a stale one it answers 412 and changes nothing", async () => {
    const user = newUser();
    const task = await create(user);
    const read = await api.as(user, "GET", `/api/tasks/${task.id}`);
    const etag = read.headers.get("etag")!;
    const ok = await api.as(user, "PUT", `/api/tasks/${task.id}`, { title: "first writer" }, { "if-match": etag });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("etag")).not.toBe(etag);
    const stale = await api.as(user, "PUT", `/api/tasks/${task.id}`, { title: "second writer" }, { "if-match": etag });
    expect(stale.status).toBe(412);
    expect(stale.body).toEqual({ detail: "Precondition failed" });
    expect((await api.as(user, "GET", `/api/tasks/${task.id}`)).body.title).toBe("first writer");
  });

  test("If-Match: * matches any existing task, and a weak ETag never matches", async () => {
    const user = newUser();
    const task = await create(user);
    expect((await api.as(user, "PATCH", `/api/tasks/${task.id}`, { title: "star" }, { "if-match": "*" })).status).toBe(
      200,
    );
    const etag = (await api.as(user, "GET", `/api/tasks/${task.id}`)).headers.get("etag")!;
    expect(
      (await api.as(user, "PATCH", `/api/tasks/${task.id}`, { title: "weak" }, { "if-match": `W/${etag}` })).status,
    ).toBe(412);
  });

  test("If-Match on another user's task answers 404, not 412", async () => {
    const task = await create(newUser());
    const res = await api.as(
      newUser(),
      "PUT",
      `/api/tasks/${task.id}`,
      { title: "x" },
      { "if-match": `"${task.id}-1"` },
    );
    expect(res.status).toBe(404);
  });

  test("concurrent updates are atomic: every one applies, none is lost", async () => {
    const user = newUser();
    const task = await create(user);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => api.as(user, "PUT", `/api/tasks/${task.id}`, { title: `writer ${i}` })),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    const etag = (await api.as(user, "GET", `/api/tasks/${task.id}`)).headers.get("etag");
    expect(etag).toBe(`"${task.id}-11"`);
  });

  test("of concurrent writers holding the same ETag exactly one wins, the rest get 412", async () => {
    const user = newUser();
    const task = await create(user);
    const etag = `"${task.id}-1"`;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        api.as(user, "PUT", `/api/tasks/${task.id}`, { title: `racer ${i}` }, { "if-match": etag }),
      ),
    );
    expect(results.filter((r) => r.status === 200).length).toBe(1);
    expect(results.filter((r) => r.status === 412).length).toBe(7);
  });
});

describe("DELETE /api/tasks/:id", () => {
  test("deletes the caller's task with 204 and an empty body; it is then gone", async () => {
    const user = newUser();
    const task = await create(user);
    const res = await api.request("DELETE", `/api/tasks/${task.id}`, { token: await tokenFor(user) });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect((await api.as(user, "GET", `/api/tasks/${task.id}`)).status).toBe(404);
    expect((await api.as(user, "DELETE", `/api/tasks/${task.id}`)).status).toBe(404);
  });

  test("another user's task answers 404 and survives", async () => {
    const owner = newUser();
    const task = await create(owner);
    const res = await api.as(newUser(), "DELETE", `/api/tasks/${task.id}`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ detail: "Task not found" });
    expect((await api.as(owner, "GET", `/api/tasks/${task.id}`)).status).toBe(200);
  });

  test("a DELETE without a body deletes even when it says Content-Type: application/json", async () => {
    const user = newUser();
    const task = await create(user, { title: "to go" });
    const res = await api.request("DELETE", `/api/tasks/${task.id}`, {
      token: await tokenFor(user),
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(204);
    expect((await api.as(user, "GET", `/api/tasks/${task.id}`)).status).toBe(404);
  });

  test("a stale If-Match answers 412 and keeps the task", async () => {
    const user = newUser();
    const task = await create(user);
    await api.as(user, "PUT", `/api/tasks/${task.id}`, { title: "changed" });
    const res = await api.as(user, "DELETE", `/api/tasks/${task.id}`, undefined, { "if-match": `"${task.id}-1"` });
    expect(res.status).toBe(412);
    expect((await api.as(user, "GET", `/api/tasks/${task.id}`)).status).toBe(200);
    expect(
      (await api.as(user, "DELETE", `/api/tasks/${task.id}`, undefined, { "if-match": `"${task.id}-2"` })).status,
    ).toBe(204);
  });
});
