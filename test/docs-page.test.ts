import { beforeAll, expect, test } from "bun:test";
import { buildApp, type TestApp } from "./support/app";

let api: TestApp;
beforeAll(async () => {
  api = await buildApp();
});

const scriptSources = (html: string) => [...html.matchAll(/<script\b[^>]*\bsrc="([^"]*)"/g)].map((m) => m[1]!);

test("GET /docs loads its scripts from the service itself, so the page works offline", async () => {
  const html = await (await api.request("GET", "/docs")).text();
  const sources = scriptSources(html);
  expect(sources.length).toBeGreaterThan(0);
  for (const src of sources) expect(src).toMatch(/^\/(?!\/)/); // a same-origin path, not //host or https://
  expect(html).not.toContain("fonts.scalar.com");
});

test("the documentation script answers 200 with JavaScript, cacheable for a year (its path names the version)", async () => {
  const [src] = scriptSources(await (await api.request("GET", "/docs")).text());
  const res = await api.request("GET", src!);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("javascript");
  expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
  expect((await res.text()).length).toBeGreaterThan(100_000);
});

test("the documentation script is sent gzip-compressed to a client that accepts it", async () => {
  const [src] = scriptSources(await (await api.request("GET", "/docs")).text());
  const plain = await (await api.request("GET", src!)).arrayBuffer();
  const res = await api.request("GET", src!, { headers: { "accept-encoding": "gzip, br" } });
  expect(res.headers.get("content-encoding")).toBe("gzip");
  expect(res.headers.get("vary")).toContain("Accept-Encoding");
  const body = new Uint8Array(await res.arrayBuffer());
  expect(body.byteLength).toBeLessThan(plain.byteLength / 2);
  expect(Bun.gunzipSync(body).byteLength).toBe(plain.byteLength);
});
