// Every answer of the task routes matches the schema its route declares (the OpenAPI document's).
// The list is sent without Elysia's per-response check (its items are typed by toTask), so this is
// where a drift between toTask and the Task schema would show.
import { beforeAll, describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { type TSchema, t } from "elysia";
import { ErrorBody, Task, ValidationErrorBody } from "../src/tasks/model";
import { buildApp, newUser, type TestApp } from "./support/app";

let api: TestApp;
beforeAll(async () => {
  api = await buildApp();
}, 30_000);

const errorsOf = (schema: TSchema, body: unknown) =>
  [...Value.Errors(schema, body)].map((e) => `${e.path}: ${e.message}`);

describe("answers match their declared schemas", () => {
  test("list (every query shape), get, create, update, replay and the error bodies", async () => {
    const user = newUser();
    const created = [];
    for (const [i, body] of [
      { title: "a" },
      { title: "b", description: null },
      { title: " c ", description: "long ".repeat(50), status: "completed" },
    ].entries()) {
      created.push(await api.as(user, "POST", "/api/tasks", body, i === 0 ? { "idempotency-key": "k-schemas" } : {}));
    }
    const replay = await api.as(user, "POST", "/api/tasks", { title: "a" }, { "idempotency-key": "k-schemas" });
    const updated = await api.as(user, "PUT", `/api/tasks/${created[0]!.body.id}`, { status: "in_progress" });
    const one = await api.as(user, "GET", `/api/tasks/${created[1]!.body.id}`);
    const lists = await Promise.all(
      ["", "?limit=2", "?status=completed", "?sort=title&limit=500", "?offset=1", "?offset=50"].map((q) =>
        api.as(user, "GET", `/api/tasks${q}`),
      ),
    );
    const notFound = await api.as(user, "GET", "/api/tasks/999999999");
    const invalid = await api.as(user, "POST", "/api/tasks", { title: "" });

    for (const res of [...created, replay, updated, one]) expect(errorsOf(Task, res.body)).toEqual([]);
    for (const res of lists) {
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json;charset=utf-8");
      expect(errorsOf(t.Array(Task), res.body)).toEqual([]);
    }
    expect(lists.map((res) => res.body.length)).toEqual([3, 2, 1, 3, 2, 0]);
    expect(errorsOf(ErrorBody, notFound.body)).toEqual([]);
    expect(errorsOf(ValidationErrorBody, invalid.body)).toEqual([]);
  });
});
