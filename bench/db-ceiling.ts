// The database ceiling: the SQL the service sends for a scenario, straight through postgres.js with the
// same pool size and the same 100-way concurrency, no HTTP, no framework, no JWT. Run as its own
// process (like wrk) by bench/run.ts: `bun bench/db-ceiling.ts <json options>`; prints one JSON line,
// with the process's own CPU time per query. `"driver": "bun"` runs the same through Bun's SQL client.
import { SQL as BunSQL } from "bun";
import postgres from "postgres";
import type { BenchData } from "./seed";
import * as SQL from "./sql";

interface Options {
  url: string;
  scenario: string;
  seconds: number;
  concurrency: number;
  poolMax: number;
  data: string;
  driver?: "postgres" | "bun";
}
const options = JSON.parse(process.argv[2]!) as Options;
const data = (await Bun.file(options.data).json()) as BenchData;

const sql =
  options.driver === "bun"
    ? undefined
    : postgres(options.url, { max: options.poolMax, prepare: true, onnotice: () => {} });
const bun =
  options.driver === "bun" ? new BunSQL({ url: options.url, max: options.poolMax, prepare: true }) : undefined;
const users = data.users;
const anyUser = () => users[Math.floor(Math.random() * users.length)]!;
const anyTask = (u: BenchData["users"][number]) => u.ids[Math.floor(Math.random() * u.ids.length)]!;
const STATUSES = ["pending", "in_progress", "completed"];
let deleted = 0;
let keys = 0;
const RUN = crypto.randomUUID();
const FINGERPRINT = "0".repeat(64);

type Query = () => Promise<unknown>;
const run = (text: string, params: (string | number | boolean | null)[]): Promise<unknown> =>
  bun ? bun.unsafe(text, params) : sql!.unsafe(text, params, { prepare: true });
const QUERIES: Record<string, Query> = {
  get: () => {
    const u = anyUser();
    return run(SQL.GET, [anyTask(u), u.userId]);
  },
  list: () => run(SQL.LIST, SQL.listParams(anyUser().userId, 21)),
  create: () =>
    run(SQL.CREATE, SQL.createParams("bench task", "created by the benchmark", "pending", anyUser().userId, 0)),
  "create-key": () =>
    run(
      SQL.CREATE_KEYED,
      SQL.createKeyedParams(
        "bench task",
        "created by the benchmark",
        "pending",
        anyUser().userId,
        0,
        `${RUN}-${keys++}`,
        FINGERPRINT,
        86_400,
      ),
    ),
  update: () => {
    const u = anyUser();
    return run(
      SQL.UPDATE,
      SQL.updateParams(
        anyTask(u),
        u.userId,
        `updated ${Math.floor(Math.random() * 1e6)}`,
        STATUSES[Math.floor(Math.random() * 3)]!,
      ),
    );
  },
  delete: () => {
    const g = deleted++;
    const u = users[g % users.length]!;
    return run(SQL.DELETE, SQL.deleteParams(u.delLo + Math.floor(g / users.length), u.userId));
  },
};
QUERIES.mix = () => {
  const r = Math.random() * 100;
  return (r < 60 ? QUERIES.get! : r < 80 ? QUERIES.list! : r < 90 ? QUERIES.create! : QUERIES.update!)();
};
const query = QUERIES[options.scenario];
if (!query) throw new Error(`unknown scenario ${options.scenario}`);

const latencies: number[] = [];
let errors = 0;
async function worker(until: number, record: boolean) {
  while (performance.now() < until) {
    const start = performance.now();
    try {
      const rows = (await query!()) as unknown[];
      if (options.scenario === "delete" && rows.length !== 1) errors++;
    } catch {
      errors++;
    }
    if (record) latencies.push(performance.now() - start);
  }
}

// One second of warm-up (JIT, prepared statements on every connection), not recorded.
await Promise.all(Array.from({ length: options.concurrency }, () => worker(performance.now() + 1000, false)));
errors = 0;
const cpuBefore = process.cpuUsage();
const started = performance.now();
await Promise.all(Array.from({ length: options.concurrency }, () => worker(started + options.seconds * 1000, true)));
const elapsed = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
await (bun ? bun.close() : sql!.end());

latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))] ?? 0;
console.log(
  JSON.stringify({
    requests: latencies.length,
    rps: latencies.length / elapsed,
    p50: pct(50),
    p95: pct(95),
    p99: pct(99),
    errors,
    cpuUsPerRequest: (cpu.user + cpu.system) / latencies.length,
  }),
);
