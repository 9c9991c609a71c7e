// Bench/test-only: makes the service do extra CPU work on every request, so the k6 load gate can be
// shown to fail "the same service, twice as slow" (k6/README.md, "Showing the gate fails a 2x slower
// service"). Never part of the product: it is a preload for `bun`, not imported by src/, and not in
// the image.
//
//   SLOW_CPU_US=<microseconds> bun --preload ./bench/slow-service.ts src/index.ts
//
// It wraps Bun.serve (and the server's reload, which Elysia calls once its routes are compiled) so
// that every handler first busy-waits SLOW_CPU_US on the service's one JavaScript thread. Set it to
// the service's own measured CPU time per request and each request costs that thread twice the CPU:
// the service's capacity halves while everything else (code path, database, client) stays the same.

const extraMs = Number(process.env.SLOW_CPU_US ?? "0") / 1000;
if (!Number.isFinite(extraMs) || extraMs < 0) throw new Error("SLOW_CPU_US must be a number of microseconds >= 0");

let spun = 0;
function spin(): void {
  const end = performance.now() + extraMs;
  while (performance.now() < end) {
    // busy: the point is to use the thread, not to wait on it
  }
  spun++;
}

type Handler = (this: unknown, ...args: unknown[]) => unknown;
const wrap = (h: unknown): unknown =>
  typeof h === "function"
    ? function (this: unknown, ...args: unknown[]) {
        spin();
        return (h as Handler).apply(this, args);
      }
    : h;

/** Bun's `routes`: path -> Response | handler | { GET: handler | Response, ... }. */
function wrapRoutes(routes: unknown): unknown {
  if (typeof routes !== "object" || routes === null) return routes;
  const out: Record<string, unknown> = {};
  for (const [path, route] of Object.entries(routes)) {
    if (typeof route === "function") out[path] = wrap(route);
    else if (typeof route === "object" && route !== null && !(route instanceof Response)) {
      out[path] = Object.fromEntries(Object.entries(route).map(([method, h]) => [method, wrap(h)]));
    } else out[path] = route; // a static Response is answered by Bun without running JavaScript
  }
  return out;
}

const wrapOptions = (o: Record<string, unknown>) => ({ ...o, fetch: wrap(o.fetch), routes: wrapRoutes(o.routes) });

if (extraMs > 0) {
  type Server = { reload(o: Record<string, unknown>): unknown };
  const serve = Bun.serve.bind(Bun) as unknown as (o: Record<string, unknown>) => Server;
  (Bun as { serve: unknown }).serve = (options: Record<string, unknown>) => {
    const server = serve(wrapOptions(options));
    const reload = server.reload.bind(server);
    server.reload = (o: Record<string, unknown>) => reload(wrapOptions(o));
    return server;
  };
  process.stderr.write(`slow-service: every request busy-waits ${extraMs * 1000} us first (bench only)\n`);
  process.on("exit", () => process.stderr.write(`slow-service: busy-waited on ${spun} requests\n`));
}
