// GET /docs (Scalar's API reference) and GET /openapi.json. The page's script is the installed,
// pinned @scalar/api-reference bundle served by the app itself, so the page works offline.
import { type ElysiaOpenAPIConfig, openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
// By path: the package's exports do not list its browser bundle. `type: "file"` embeds the file in
// the compiled binary (bun build --compile), so the container image needs no node_modules.
import scalarBundlePath from "../node_modules/@scalar/api-reference/dist/browser/standalone.js" with { type: "file" };
import { version as scalarVersion } from "../node_modules/@scalar/api-reference/package.json";
import { elysiaConfig } from "./elysia-config";

// The version is in the path, so a browser may keep the file for good and an upgrade changes the URL.
const SCRIPT_PATH = `/docs/assets/scalar-${scalarVersion}.js`;
const CACHE = "public, max-age=31536000, immutable";
const SPEC_PATH = "/openapi.json";

let bundle: Promise<{ plain: Uint8Array; gzip: Uint8Array }> | undefined;
// Read and compressed on first use (4.8 MB, 1.3 MB gzipped), then kept: most processes never serve it.
const loadBundle = () =>
  (bundle ??= Bun.file(scalarBundlePath)
    .bytes()
    .then((plain) => ({ plain, gzip: Bun.gzipSync(plain) })));

type Document = { paths?: Record<string, Record<string, { responses?: Record<string, { content?: unknown }> }>> };

/**
 * Upstream bug (@elysiajs/openapi 1.4.16): a `t.Void()` response (our 204s) is rendered as
 * `content: { type: "void" }`, which is no media-type map, so the document fails OpenAPI validation;
 * reported in the review of https://github.com/elysiajs/elysia-openapi/pull/348. A response without a
 * body has no `content`. Remove this when the plugin omits it itself: the validator test in
 * test/openapi.test.ts then passes without it.
 */
function dropVoidContent(document: Document): Document {
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      for (const response of Object.values(operation.responses ?? {})) {
        const content = response.content as { type?: unknown } | undefined;
        if (content && typeof content.type === "string") delete response.content;
      }
    }
  }
  return document;
}

/**
 * `noValidate` (src/tasks/routes.ts: success answers that Elysia need not check) is Elysia's flag on the
 * schema object, no JSON Schema keyword: the generated document would carry it. Arrays cannot hide
 * it as a non-enumerable property, since Elysia copies their schema before it reads the flag.
 */
function dropNoValidate(document: Document): Document {
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      for (const response of Object.values(operation.responses ?? {})) {
        const content = response.content as Record<string, { schema?: { noValidate?: unknown } }> | undefined;
        for (const media of Object.values(content ?? {})) if (media?.schema) delete media.schema.noValidate;
      }
    }
  }
  return document;
}

export function docsRoutes() {
  return new Elysia({ ...elysiaConfig, name: "docs" })
    .onAfterHandle(({ path, responseValue }) =>
      path === SPEC_PATH ? dropNoValidate(dropVoidContent(responseValue as Document)) : undefined,
    )
    .use(
      openapi({
        path: "/docs",
        specPath: SPEC_PATH,
        exclude: { paths: ["/docs", SPEC_PATH, SCRIPT_PATH] },
        // No fonts from Scalar's CDN, no telemetry. (The cast: the plugin types this option with
        // @scalar/types' resolved configuration, every field required, though it fills the defaults itself.)
        scalar: { cdn: SCRIPT_PATH, withDefaultFonts: false, telemetry: false } as ElysiaOpenAPIConfig["scalar"],
        documentation: {
          info: {
            title: "Tasks API",
            version: "0.1.0",
            description:
              "Each signed-in user's tasks. Authenticate with a Better Auth JWT: `Authorization: Bearer <token>`.",
          },
          components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
        },
      }),
    )
    .get(
      SCRIPT_PATH,
      async ({ request }) => {
        const { plain, gzip } = await loadBundle();
        const gzipped = /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "");
        return new Response(gzipped ? gzip : plain, {
          headers: {
            "content-type": "text/javascript; charset=utf-8",
            "cache-control": CACHE,
            vary: "Accept-Encoding",
            ...(gzipped ? { "content-encoding": "gzip" } : {}),
          },
        });
      },
      { detail: { hide: true } },
    );
}
