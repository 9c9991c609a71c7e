// `bun run openapi`: writes docs/openapi.json, the document the app serves at /openapi.json.
// test/openapi.test.ts fails when the committed file and the served document differ.
import { createApp } from "../src/app";
import { hs256Verifier } from "../src/auth/verifier";
import { loadConfig } from "../src/config";
import { openDatabase } from "../src/db/client";
import { createLogger } from "../src/logger";

// The document depends on the routes' schemas only; no query runs, so an empty in-memory database does.
const database = await openDatabase({ kind: "pglite", dataDir: undefined, poolMax: 1 });
const app = createApp({
  config: loadConfig({}), // the defaults: the document does not depend on the environment
  database,
  verifier: hs256Verifier(crypto.randomUUID().repeat(2), {}),
  logger: createLogger({ level: "error" }, () => {}),
});
const document = await (await app.handle(new Request("http://localhost/openapi.json"))).json();
await Bun.write(new URL("../docs/openapi.json", import.meta.url), `${JSON.stringify(document, null, 2)}\n`);
await database.close();
