// A frontend's typed client: Eden Treaty built from the exported App type, against a live server.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { treaty } from "@elysiajs/eden";
import { type App, createApp } from "../src/app";
import { hs256Verifier } from "../src/auth/verifier";
import { DEFAULT_FAIR_SHARE } from "../src/config";
import { createLogger } from "../src/logger";
import { testDatabase } from "./setup";
import { newUser, SECRET, tokenFor } from "./support/app";

let server: App;
let client: (token: string) => ReturnType<typeof treaty<App>>;
beforeAll(async () => {
  server = createApp({
    config: { corsOrigins: [], fairShare: DEFAULT_FAIR_SHARE },
    database: await testDatabase(),
    verifier: hs256Verifier(SECRET, {}),
    logger: createLogger({ level: "error" }, () => {}),
  }).listen({ hostname: "127.0.0.1", port: 0 });
  const origin = `http://127.0.0.1:${server.server!.port}`;
  client = (token) => treaty<App>(origin, { headers: { authorization: `Bearer ${token}` } });
});
afterAll(() => server.stop(true));

test("create, read, list, update and delete through the typed client", async () => {
  const api = client(await tokenFor(newUser("eden")));
  const created = await api.api.tasks.post({ title: "typed", status: "pending" });
  expect(created.status).toBe(201);
  const id = created.data!.id; // a number, as the response schema says
  expect(created.data).toMatchObject({ id, title: "typed", status: "pending", description: null });

  const read = await api.api.tasks({ id: String(id) }).get();
  expect(read.data?.title).toBe("typed");
  expect(read.response.headers.get("etag")).toBe(`"${id}-1"`);

  const listed = await api.api.tasks.get({ query: { status: "pending", limit: "10" } });
  expect(listed.data?.map((t) => t.id)).toEqual([id]);

  const updated = await api.api.tasks({ id: String(id) }).patch({ status: "completed" });
  expect(updated.data?.status).toBe("completed");

  const deleted = await api.api.tasks({ id: String(id) }).delete();
  expect(deleted.status).toBe(204);
  const gone = await api.api.tasks({ id: String(id) }).get();
  expect(gone.status).toBe(404);
  expect(gone.error?.value).toEqual({ detail: "Task not found" });
});

test("a body the types refuse is refused by the server too (422)", async () => {
  const api = client(await tokenFor(newUser("eden")));
  // @ts-expect-error: title must be a string; tsc (bun run typecheck) fails if this compiles
  const wrongType = await api.api.tasks.post({ title: 42 });
  expect(wrongType.status).toBe(422);
  // @ts-expect-error: an unknown field; the schema closes the object
  const extra = await api.api.tasks.post({ title: "ok", owner: "someone else" });
  expect(extra.status).toBe(422);
  // @ts-expect-error: status is one of pending, in_progress, completed
  const badStatus = await api.api.tasks.post({ title: "ok", status: "done" });
  expect(badStatus.status).toBe(422);
});
