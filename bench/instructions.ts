// `bun run bench:instructions [--only get,list,create,update] [--baseline <git ref>]... [--bare all|pg]
// [--connections 10] [--warm 25] [--window 6] [--windows 6] [--runs 1]`: instructions per request of
// each server as it serves the bench's requests over HTTP, under valgrind's callgrind. The service's
// compiled binary (and each baseline's), and the bare server on Bun's SQL client and on postgres.js (bench/bare.ts
// compiled alike; `--bare pg` only the latter, the reference of the ratios), one at a time, each under
// callgrind with its counter off; wrk drives one scenario of bench/tasks.lua: --warm seconds uncounted
// (the JIT tiers up), then --windows windows of --window seconds, the counter switched on and off
// around each with callgrind_control and dumped per window. Instructions of the window over the
// requests wrk completed in it; the least window is the figure (one that holds a JIT compilation or a
// full garbage collection counts more; one without any answer has none). With --runs N each target runs
// in N processes, alternating with the others, and the figure is the median of their least windows: the
// JIT settles differently in each process, and the same build's least window moved by 10% between two.
// Few connections: under callgrind a server is some 50 times slower, and 100 connections would wait
// past the service's deadlines. A measuring instrument, not a test: what `bun run bench` cannot
// resolve (a few thousand instructions among a hundred thousand), counted the same whatever else the
// machine runs, for the HTTP path and the driver as each server drives them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { CALLGRIND_ENV, callgrindControl, requireValgrind, underCallgrind, windowTotals } from "./callgrind";
import { makeUsers, seedTasks, writeData } from "./seed";
import { buildBinary, freePort, waitFor } from "./server";
import { ensureWrk, wrk } from "./wrk";

// Not delete: each wrk run of it walks the same pool of ids from its start, and here every window is a run.
const SCENARIOS = ["get", "list", "create", "update"];
const { values: args } = parseArgs({
  options: {
    only: { type: "string", default: "get,update" },
    baseline: { type: "string", multiple: true, default: [] },
    bare: { type: "string", default: "all" },
    connections: { type: "string", default: "10" },
    warm: { type: "string", default: "25" },
    window: { type: "string", default: "6" },
    windows: { type: "string", default: "6" },
    runs: { type: "string", default: "1" },
    "admin-url": {
      type: "string",
      default: process.env.BENCH_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    },
  },
});
requireValgrind("bench:instructions");
ensureWrk();
const scenarios = args.only!.split(",").filter((s) => SCENARIOS.includes(s));
const connections = Number(args.connections);
const runs = Number(args.runs);
const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
// The servers' listen address, and the HOST callgrind_control must see too (see callgrindControl).
const HOST = "127.0.0.1";
const controlEnv = { ...process.env, HOST };

const tmp = mkdtempSync(`${tmpdir()}/tasks-instructions-`);
const dbName = `tasks_instructions_${process.pid}`;
const admin = postgres(args["admin-url"]!, { max: 1, onnotice: () => {} });
const dbUrl = Object.assign(new URL(args["admin-url"]!), { pathname: `/${dbName}` }).toString();
const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
const env = {
  ...process.env,
  HOST,
  NODE_ENV: "production",
  DATABASE_URL: dbUrl,
  BETTER_AUTH_SECRET: secret,
  DB_POOL_MAX: "10",
  RATE_LIMIT_PER_MINUTE: "0",
  USER_CONCURRENCY: "0",
  MAX_TASKS_PER_USER: "0",
  // Not the 5 s default: a request held by a compilation under callgrind must not be cancelled as stuck.
  DB_STATEMENT_TIMEOUT_MS: "60000",
  ...CALLGRIND_ENV,
};

const targets: { label: string; command: string[]; env?: Record<string, string> }[] = [
  { label: "service", command: [`${tmp}/tasks-api`] },
];
console.error("building the binaries");
await buildBinary(`${tmp}/tasks-api`);
for (const [i, ref] of args.baseline!.entries()) {
  await buildBinary(`${tmp}/baseline-${i}`, ref);
  targets.push({ label: `@${ref}`, command: [`${tmp}/baseline-${i}`] });
}
if (args.bare !== "all" && args.bare !== "pg") throw new Error(`--bare: all or pg, not ${args.bare}`);
await buildBinary(`${tmp}/bare`, undefined, "./bench/bare.ts");
if (args.bare === "all") targets.push({ label: "bare", command: [`${tmp}/bare`], env: { BARE_DRIVER: "bun" } });
targets.push({ label: "bare pg.js", command: [`${tmp}/bare`], env: { BARE_DRIVER: "postgres" } });

/** One server under callgrind, one scenario: instructions per request of each window. */
async function count(target: (typeof targets)[number], scenario: string, dataFile: string): Promise<number[]> {
  const out = mkdtempSync(`${tmp}/cg-`);
  const port = freePort();
  const proc = Bun.spawn(underCallgrind(out, target.command), {
    env: { ...env, PORT: String(port), ...target.env },
    stdout: "ignore",
    stderr: "ignore",
  });
  const control = (flag: string) => callgrindControl(flag, proc.pid, controlEnv);
  const url = `http://${HOST}:${port}`;
  const requests: number[] = [];
  try {
    await waitFor(`${url}/health/ready`, proc, `${target.label} under callgrind`, 120);
    const run = (seconds: number) =>
      wrk(url, {
        seconds,
        connections,
        scenario,
        dataFile,
        raw: `${out}/wrk-${requests.length}.json`,
        // The JIT compiling on the main thread can hold every answer for seconds (see the top).
        timeoutSeconds: 60,
      });
    await run(Number(args.warm));
    for (let w = 0; w < Number(args.windows); w++) {
      control("-i=on");
      const result = await run(Number(args.window));
      control("-i=off");
      control("-d");
      if (result.errors > 0) throw new Error(`${target.label} ${scenario}: ${result.errors} answers outside 2xx`);
      // A window with no answer at all: the JIT compiling on the main thread for longer than the
      // window (it is some 50 times slower under callgrind). It has no figure; the others count.
      requests.push(result.requests);
    }
    if (requests.every((n) => n === 0))
      throw new Error(`${target.label} ${scenario}: no answer in any window; lengthen --window or --warm`);
  } finally {
    proc.kill();
    await proc.exited;
  }
  const perRequest = windowTotals(out, `${target.label} ${scenario}`).map((total, i) =>
    requests[i] ? total / requests[i]! : Number.POSITIVE_INFINITY,
  );
  rmSync(out, { recursive: true, force: true });
  return perRequest;
}

const lines: string[] = [];
try {
  await admin.unsafe(`create database "${dbName}"`);
  // The data, through a service not under callgrind: migrated, 100 users x 20 tasks.
  const seedPort = freePort();
  const seeder = Bun.spawn([`${tmp}/tasks-api`], { env: { ...env, PORT: String(seedPort) }, stdout: "ignore" });
  await waitFor(`http://${HOST}:${seedPort}/health/ready`, seeder, "the seeding service");
  const users = await makeUsers(secret, 100);
  await seedTasks(`http://${HOST}:${seedPort}`, users, 20);
  seeder.kill();
  await seeder.exited;
  await writeData(tmp, users);

  lines.push(
    `wrk -t2 -c${connections}; ${args.windows} windows of ${args.window} s after ${args.warm} s to warm up; instructions per request (${
      runs > 1
        ? `median over ${runs} processes of each one's least window; each process's least in brackets`
        : "least window; all windows in brackets"
    })`,
    "",
    `| scenario | ${targets.map((t) => t.label).join(" | ")} | ${targets
      .slice(0, -1)
      .map((t) => `${t.label} / bare pg.js`)
      .join(" | ")} |`,
    `| --- |${" ---: |".repeat(targets.length * 2 - 1)}`,
  );
  for (const scenario of scenarios) {
    // Per target, the least window of each process; with --runs, the targets alternate (A B, B A, ...).
    const leasts = targets.map(() => [] as number[]);
    const shown = targets.map(() => "");
    for (let run = 0; run < runs; run++) {
      const order = targets.map((_, i) => i);
      if (run % 2 === 1) order.reverse();
      for (const i of order) {
        const windows = await count(targets[i]!, scenario, `${tmp}/data.lua`);
        leasts[i]!.push(Math.min(...windows));
        shown[i] = windows.map((x) => (Number.isFinite(x) ? (x / 1000).toFixed(0) : "-")).join(", ");
        console.error(
          `${scenario} ${targets[i]!.label}: least ${Math.min(...windows).toFixed(0)} instructions per request`,
        );
      }
    }
    const figure = leasts.map(median);
    const cells = figure.map(
      (x, i) =>
        `${(x / 1000).toFixed(1)}k [${runs > 1 ? leasts[i]!.map((y) => (y / 1000).toFixed(1)).join(", ") : shown[i]}]`,
    );
    const pg = figure.at(-1)!;
    lines.push(
      `| ${scenario} | ${cells.join(" | ")} | ${figure
        .slice(0, -1)
        .map((x) => `${(x / pg).toFixed(2)}x`)
        .join(" | ")} |`,
    );
  }
} finally {
  await admin.unsafe(`drop database if exists "${dbName}" with (force)`).catch(() => {});
  await admin.end();
  rmSync(tmp, { recursive: true, force: true });
}
console.log(lines.join("\n"));
