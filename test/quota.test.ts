import { beforeAll, describe, expect, test } from "bun:test";
import { buildApp, newUser, type TestApp } from "./support/app";

let api: TestApp;
beforeAll(async () => {
  api = await buildApp({ fairShare: { rateLimitPerMinute: 0, userConcurrency: 0, maxTasksPerUser: 5 } });
}, 30_000);

describe("quota per user (MAX_TASKS_PER_USER)", () => {
  test("30 concurrent creates at a limit of 5 create exactly 5; the rest answer 409 and create nothing", async () => {
    const user = newUser();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => api.as(user, "POST", "/api/tasks", { title: `t${i}` })),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201).length).toBe(5);
    expect(statuses.filter((s) => s === 409).length).toBe(25);
    expect(answers.find((a) => a.status === 409)!.body).toEqual({ detail: "Task limit reached" });
    const list = await api.as(user, "GET", "/api/tasks");
    expect(list.body.length).toBe(5);
    expect(list.headers.get("x-total-count")).toBe("5");
  });

  test("a delete gives the slot back; another user's quota is their own", async () => {
    const user = newUser();
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await api.as(user, "POST", "/api/tasks", { title: `t${i}` })).body.id);
    expect((await api.as(user, "POST", "/api/tasks", { title: "sixth" })).status).toBe(409);
    expect((await api.as(newUser(), "POST", "/api/tasks", { title: "other" })).status).toBe(201);
    expect((await api.as(user, "DELETE", `/api/tasks/${ids[0]}`)).status).toBe(204);
    expect((await api.as(user, "DELETE", `/api/tasks/${ids[0]}`)).status).toBe(404);
    expect((await api.as(user, "POST", "/api/tasks", { title: "sixth" })).status).toBe(201);
    expect((await api.as(user, "POST", "/api/tasks", { title: "seventh" })).status).toBe(409);
  });

  test("a delete whose If-Match no longer matches keeps the slot taken", async () => {
    const user = newUser();
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await api.as(user, "POST", "/api/tasks", { title: `t${i}` })).body.id);
    expect(
      (await api.as(user, "DELETE", `/api/tasks/${ids[0]}`, undefined, { "if-match": `"${ids[0]}-99"` })).status,
    ).toBe(412);
    expect((await api.as(user, "POST", "/api/tasks", { title: "sixth" })).status).toBe(409);
  });
});
