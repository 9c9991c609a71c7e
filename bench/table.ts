import type { Result } from "./wrk";

// The Fastify + postgres.js + jose peer, measured once on the reference machine (2 cores,
// wrk -t2 -c100 -d15s). Kept as a yardstick; it is not re-measured by this script.
export const FASTIFY: Record<string, { rps: number; p95: number } | undefined> = {
  get: { rps: 5684, p95: 28 },
  list: { rps: 2231, p95: 72 },
  create: { rps: 3346, p95: 41 },
  update: { rps: 3558, p95: 48 },
  mix: { rps: 3436, p95: 42 },
};

export interface Row { scenario: string; http: Result; db: Result }

const ms = (v: number) => v.toFixed(v < 10 ? 2 : 1);
const int = (v: number) => Math.round(v).toLocaleString("en-US");
const cpu = (r: Result) => (r.cpuUsPerRequest === undefined ? "-" : String(Math.round(r.cpuUsPerRequest)));
const pct = (a: number, b: number) => (b > 0 ? `${Math.round((100 * a) / b)}%` : "-");

/** One markdown table: the service, its database ceiling, and the ratios that say where time goes. */
export function table(rows: Row[], hello: Result): string {
  const head = ["scenario", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "server CPU µs/req", "DB ceiling req/s", "p50 / p95 / p99 ms", "req/s of DB", "req/s of hello", "p95 / DB p95", "x Fastify req/s"];
  const lines = rows.map(({ scenario, http, db }) => [
    scenario, int(http.rps), ms(http.p50), ms(http.p95), ms(http.p99), `${http.errors}/${int(http.requests)}`, cpu(http),
    int(db.rps), `${ms(db.p50)} / ${ms(db.p95)} / ${ms(db.p99)}`,
    pct(http.rps, db.rps), pct(http.rps, hello.rps), db.p95 > 0 ? `${(http.p95 / db.p95).toFixed(1)}x` : "-",
    FASTIFY[scenario.split(" ")[0]!] ? `${(http.rps / FASTIFY[scenario.split(" ")[0]!]!.rps).toFixed(2)}x` : "-",
  ]);
  lines.push(["hello (bare Bun.serve)", int(hello.rps), ms(hello.p50), ms(hello.p95), ms(hello.p99), `${hello.errors}/${int(hello.requests)}`, cpu(hello), "", "", "", "100%", "", ""]);
  return [head, head.map(() => "---"), ...lines].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}
