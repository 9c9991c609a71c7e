import { beforeAll, expect, test } from "bun:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { buildApp, newUser, type TestApp } from "./support/app";

let api: TestApp;
beforeAll(async () => {
  api = await buildApp();
}, 30_000);

const served = async (app: TestApp) => (await app.request("GET", "/openapi.json")).json();

test("docs/openapi.json is the document the app serves (regenerate it with `bun run openapi`)", async () => {
  const committed = await Bun.file(new URL("../docs/openapi.json", import.meta.url)).json();
  expect(committed).toEqual(await served(api));
});

test("the served document is the same before and after the routes have answered requests", async () => {
  const before = await served(await buildApp());
  const user = newUser();
  const { body } = await api.as(user, "POST", "/api/tasks", { title: "compiles every validator" });
  for (const [method, path] of [
    ["GET", "/api/tasks"],
    ["GET", `/api/tasks/${body.id}`],
    ["PUT", `/api/tasks/${body.id}`],
    ["PATCH", `/api/tasks/${body.id}`],
    ["DELETE", `/api/tasks/${body.id}`],
    ["GET", "/health"],
    ["GET", "/health/ready"],
  ] as const) {
    await api.as(user, method, path, method.startsWith("P") ? { status: "completed" } : undefined);
  }
  expect(await served(await buildApp())).toEqual(before);
});

test("the document names the collection /api/tasks and the item /api/tasks/{id}, without a trailing slash", async () => {
  const doc: any = await served(api);
  expect(Object.keys(doc.paths).sort()).toEqual(["/api/tasks", "/api/tasks/{id}", "/health", "/health/ready"]);
  expect(Object.keys(doc.paths["/api/tasks"]).sort()).toEqual(["get", "post"]);
});

test("the collection answers with and without a trailing slash", async () => {
  const user = newUser();
  for (const path of ["/api/tasks", "/api/tasks/"]) {
    const { status, body } = await api.as(user, "POST", path, { title: `created at ${path}` });
    expect(status).toBe(201);
    expect((await api.as(user, "GET", path)).body.map((t: any) => t.id)).toContain(body.id);
  }
});

test("the list documents its cursor parameter and the X-Total-Count and Link headers of its answer", async () => {
  const list = ((await served(api)) as any).paths["/api/tasks"].get;
  const cursor = list.parameters.find((p: { name: string }) => p.name === "cursor");
  expect(cursor).toMatchObject({ in: "query", required: false, schema: { type: "string" } });
  expect(cursor.schema.description).toContain("Link");
  expect(Object.keys(list.responses["200"].headers)).toEqual(["X-Total-Count", "Link"]);
  expect(list.responses["200"].headers.Link.schema.description).toContain('rel="next"');
});

test("docs/openapi.json is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)", async () => {
  const committed = await Bun.file(new URL("../docs/openapi.json", import.meta.url)).json();
  const validator = new Validator();
  const result = await validator.validate(committed);
  expect(result.errors ?? []).toEqual([]);
  expect(result.valid).toBe(true);
  expect(validator.version).toBe("3.1");
});

test("the validator refuses a document that breaks the schema (an operation without responses)", async () => {
  const broken = await Bun.file(new URL("../docs/openapi.json", import.meta.url)).json();
  broken.paths["/api/tasks"].get.responses = "none";
  expect((await new Validator().validate(broken)).valid).toBe(false);
});
