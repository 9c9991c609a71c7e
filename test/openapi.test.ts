import { beforeAll, expect, test } from "bun:test";
import { buildApp, type TestApp } from "./support/app";

let api: TestApp;
beforeAll(async () => {
  api = await buildApp();
}, 30_000);

test("docs/openapi.json is the document the app serves (regenerate it with `bun run openapi`)", async () => {
  const served = await (await api.request("GET", "/openapi.json")).json();
  const committed = await Bun.file(new URL("../docs/openapi.json", import.meta.url)).json();
  expect(committed).toEqual(served);
});
