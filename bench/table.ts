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

/** The label of the bare-server target (bench/bare.ts): the ceiling every other target is compared with. */
export const BARE = "bare";
/** The same bare server on postgres.js, the service's driver: what the framework alone costs. */
export const BARE_POSTGRES = "bare, postgres.js";

/** One scenario: its database ceiling and each target's median run, by target label. */
export interface Row {
  scenario: string;
  db: Result;
  dbBun?: Result;
  results: Record<string, Result>;
}

const ms = (v: number) => v.toFixed(v < 10 ? 2 : 1);
const int = (v: number) => Math.round(v).toLocaleString("en-US");
const cpu = (r: Result) => (r.cpuUsPerRequest === undefined ? "-" : String(Math.round(r.cpuUsPerRequest)));
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? `${(a / b).toFixed(2)}x` : "-");

/**
 * One markdown table: per scenario, each target and the database ceiling, with the ratios that say
 * where time goes: req/s and CPU per request against the bare server, req/s against the database.
 */
export function table(rows: Row[], hello: Result): string {
  const head = [
    "scenario",
    "target",
    "req/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "errors",
    "CPU µs/req",
    "req/s x bare",
    "p99 / bare p99",
    "CPU / bare CPU",
    "req/s x bare pg.js",
    "p99 / bare pg.js p99",
    "CPU / bare pg.js CPU",
    "req/s x DB",
    "x Fastify req/s",
  ];
  const lines: string[][] = [];
  for (const { scenario, db, dbBun, results } of rows) {
    const bare = results[BARE];
    const barePg = results[BARE_POSTGRES];
    for (const [label, r] of Object.entries(results)) {
      const isBare = label === BARE || label === BARE_POSTGRES;
      const fastify = isBare ? undefined : FASTIFY[scenario];
      lines.push([
        scenario,
        label,
        int(r.rps),
        ms(r.p50),
        ms(r.p95),
        ms(r.p99),
        `${r.errors}/${int(r.requests)}`,
        cpu(r),
        label === BARE ? "1.00x" : ratio(r.rps, bare?.rps),
        label === BARE ? "1.00x" : ratio(r.p99, bare?.p99),
        label === BARE ? "1.00x" : ratio(r.cpuUsPerRequest, bare?.cpuUsPerRequest),
        label === BARE_POSTGRES ? "1.00x" : ratio(r.rps, barePg?.rps),
        label === BARE_POSTGRES ? "1.00x" : ratio(r.p99, barePg?.p99),
        label === BARE_POSTGRES ? "1.00x" : ratio(r.cpuUsPerRequest, barePg?.cpuUsPerRequest),
        ratio(r.rps, db.rps),
        fastify ? ratio(r.rps, fastify.rps) : "-",
      ]);
    }
    lines.push([
      scenario,
      "DB ceiling",
      int(db.rps),
      ms(db.p50),
      ms(db.p95),
      ms(db.p99),
      `${db.errors}/${int(db.requests)}`,
      cpu(db),
      "",
      "",
      "",
      "",
      "",
      "",
      "1.00x",
      "",
    ]);
    if (dbBun)
      lines.push([
        scenario,
        "DB ceiling, Bun SQL",
        int(dbBun.rps),
        ms(dbBun.p50),
        ms(dbBun.p95),
        ms(dbBun.p99),
        `${dbBun.errors}/${int(dbBun.requests)}`,
        cpu(dbBun),
        "",
        "",
        "",
        "",
        "",
        "",
        ratio(dbBun.rps, db.rps),
        "",
      ]);
  }
  lines.push([
    "hello",
    "bare Bun.serve, constant",
    int(hello.rps),
    ms(hello.p50),
    ms(hello.p95),
    ms(hello.p99),
    `${hello.errors}/${int(hello.requests)}`,
    cpu(hello),
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
  ]);
  return [head, head.map(() => "---"), ...lines].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}
