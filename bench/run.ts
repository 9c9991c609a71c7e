// `bun run bench [--seconds 10] [--warm 3] [--connections 100] [--pool 10] [--server-log /dev/null]
// [--only get,list] [--baseline <git ref>] [--repeat 1] [--no-bare] [--bun-sql-ceiling] [--pooled get,update] [--admin-url postgres://postgres@127.0.0.1:5432/postgres]`
// Fresh database, the compiled service, 100 users x 20 tasks seeded through the API, then for each
// scenario: its database ceiling (bench/db-ceiling.ts), then every target under wrk (first --warm
// seconds of the same scenario, not recorded, so each server's JIT has compiled that route's code; then
// the data reset and the measured run): the service, the bare server (bench/bare.ts) on Bun's SQL
// client and on postgres.js and, with --baseline, the service built from that commit. Writes the
// table and every raw output under bench/results/<time>/, stops everything and drops the database.
// --repeat N alternates the targets N times per scenario and keeps each one's median run (by req/s),
// which steadies numbers on a shared machine. Another target is one more entry in `targets`.
// --pooled: these scenarios also run the service through a real PgBouncer (transaction mode,
// max_prepared_statements; the binary from .ci/pgbouncer.sh) in front of the same database, with the
// ratio pooled / direct printed. "" skips it.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { pgbouncerBinary, startPgBouncer, type TempPgBouncer } from "../test/support/pgbouncer";
import { makeUsers, resetTasks, seedDeletePool, seedTasks, writeData } from "./seed";
import { buildBinary, cpuSeconds, freePort, type Running, rssMiB, startBare, startHello, startService } from "./server";
import { BARE, BARE_POSTGRES, type Row, table } from "./table";
import { dbCeiling, ensureWrk, type Result, wrk } from "./wrk";

const SCENARIOS = ["get", "list", "create", "create-key", "update", "mix", "delete"];
const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    warm: { type: "string", default: "3" },
    connections: { type: "string", default: "100" },
    pool: { type: "string", default: "10" },
    "server-log": { type: "string", default: "/dev/null" },
    only: { type: "string", default: SCENARIOS.join(",") },
    baseline: { type: "string" },
    repeat: { type: "string", default: "1" },
    "no-bare": { type: "boolean", default: false },
    "bun-sql-ceiling": { type: "boolean", default: false },
    pooled: { type: "string", default: "get,update" },
    "admin-url": {
      type: "string",
      default: process.env.BENCH_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    },
  },
});
const seconds = Number(args.seconds);
const connections = Number(args.connections);
const scenarios = args.only!.split(",").filter((s) => SCENARIOS.includes(s));
const pooledScenarios = args.pooled!.split(",").filter((s) => scenarios.includes(s));
const USERS = 100,
  TASKS_PER_USER = 20;
// DELETE needs one live task per request; generous for a fast server on a small box.
const deletePoolPerUser = Math.ceil(((Math.max(seconds, Number(args.warm)) + 1) * 40_000) / USERS);

const median = (runs: Result[]) => [...runs].sort((a, b) => a.rps - b.rps)[Math.floor((runs.length - 1) / 2)]!;

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const results = `${import.meta.dir}/results/${stamp}`;
mkdirSync(results, { recursive: true });
const tmp = mkdtempSync(`${tmpdir()}/tasks-bench-`);
const log = (msg: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

const dbName = `tasks_bench_${process.pid}`;
const admin = postgres(args["admin-url"]!, { max: 1, onnotice: () => {} });
const dbUrl = Object.assign(new URL(args["admin-url"]!), { pathname: `/${dbName}` }).toString();
/** What wrk measures in every scenario (or those of `only`); the first is the service, the one the ratios are about. */
interface Target {
  label: string;
  running: Running;
  only?: string[] /** another process whose CPU per request is reported too (PgBouncer) */;
  sidecarPid?: number;
}
const targets: Target[] = [];
const POOLED = "PgBouncer";
let hello: Running | undefined;
let bouncer: TempPgBouncer | undefined;
let sql: postgres.Sql | undefined;

async function cleanup() {
  await hello?.stop();
  for (const target of targets) await target.running.stop();
  bouncer?.destroy();
  await sql?.end();
  await admin.unsafe(`drop database if exists "${dbName}" with (force)`).catch(() => {});
  await admin.end();
  rmSync(tmp, { recursive: true, force: true });
}
const LIMITS_OFF = { RATE_LIMIT_PER_MINUTE: "0", USER_CONCURRENCY: "0", MAX_TASKS_PER_USER: "0" };
process.on("SIGINT", () => void cleanup().finally(() => process.exit(130)));

try {
  ensureWrk();
  log(`building the service binary; database ${dbName}`);
  await buildBinary(`${tmp}/tasks-api`);
  if (args.baseline) await buildBinary(`${tmp}/baseline`, args.baseline);
  if (!args["no-bare"]) await buildBinary(`${tmp}/bare`, undefined, "./bench/bare.ts");
  await admin.unsafe(`create database "${dbName}"`);
  sql = postgres(dbUrl, { max: 2, onnotice: () => {} });

  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
  // The fair-share limits are off: the bench measures throughput, which a per-user budget would cap.
  const env = { DATABASE_URL: dbUrl, BETTER_AUTH_SECRET: secret, DB_POOL_MAX: args.pool!, ...LIMITS_OFF };
  const service = await startService(`${tmp}/tasks-api`, env, freePort(), args["server-log"]!);
  targets.push({ label: "service", running: service });
  if (args.baseline)
    targets.push({
      label: `@${args.baseline}`,
      running: await startService(`${tmp}/baseline`, env, freePort(), args["server-log"]!),
    });
  if (pooledScenarios.length) {
    if (!pgbouncerBinary)
      throw new Error(
        "--pooled needs PgBouncer 1.21+: run .ci/pgbouncer.sh (or set PGBOUNCER_BIN), or pass --pooled ''",
      );
    // As many server connections as the direct service has, so the comparison is of the path only.
    bouncer = await startPgBouncer({ url: dbUrl }, { default_pool_size: args.pool! });
    targets.push({
      label: POOLED,
      only: pooledScenarios,
      sidecarPid: bouncer.pid,
      running: await startService(
        `${tmp}/tasks-api`,
        { ...env, DATABASE_URL: bouncer.url },
        freePort(),
        args["server-log"]!,
      ),
    });
  }
  if (!args["no-bare"]) {
    targets.push({ label: BARE, running: await startBare(`${tmp}/bare`, env, freePort(), args["server-log"]!) });
    targets.push({
      label: BARE_POSTGRES,
      running: await startBare(`${tmp}/bare`, { ...env, BARE_DRIVER: "postgres" }, freePort(), args["server-log"]!),
    });
  }
  const rssAtRest = rssMiB(service.proc.pid);

  log(`seeding ${USERS} users x ${TASKS_PER_USER} tasks through the API`);
  const users = await makeUsers(secret, USERS);
  await seedTasks(service.url, users, TASKS_PER_USER);
  await writeData(tmp, users);

  log("hello ceiling (bare Bun.serve)");
  hello = await startHello(freePort());
  const helloResult = await wrk(hello.url, {
    seconds,
    connections,
    scenario: "hello",
    raw: `${results}/hello.txt`,
    serverPid: hello.proc.pid,
  });
  await hello.stop();
  hello = undefined;

  const rows: Row[] = [];
  for (const scenario of scenarios) {
    const fresh = async () => {
      await resetTasks(sql!, users);
      if (scenario === "delete") await seedDeletePool(sql!, users, deletePoolPerUser);
      await writeData(tmp, users);
    };
    await fresh();
    log(`${scenario}: database ceiling`);
    const db = await dbCeiling({
      url: dbUrl,
      scenario,
      seconds,
      concurrency: connections,
      poolMax: Number(args.pool),
      data: `${tmp}/data.json`,
      raw: `${results}/${scenario}-db.txt`,
    });
    // The same ceiling through Bun's SQL client: what the driver alone costs (the client's CPU per query).
    if (args["bun-sql-ceiling"]) await fresh();
    const dbBun = args["bun-sql-ceiling"]
      ? await dbCeiling({
          url: dbUrl,
          scenario,
          seconds,
          concurrency: connections,
          poolMax: Number(args.pool),
          data: `${tmp}/data.json`,
          raw: `${results}/${scenario}-db-bun.txt`,
          driver: "bun",
        })
      : undefined;
    const here = targets.filter((t) => !t.only || t.only.includes(scenario));
    // The route's code compiled before it is measured, in every target alike: a run that starts cold
    // also counts the JIT's compilations (on its own threads, in the server's CPU time) and the requests
    // served by code not yet optimised, and the service has far more code than a bare server to compile.
    if (Number(args.warm) > 0)
      for (const { label, running } of here) {
        await fresh();
        log(`${scenario}: ${label} warm-up (${args.warm} s, not recorded)`);
        await wrk(running.url, {
          seconds: Number(args.warm),
          connections,
          scenario,
          dataFile: `${tmp}/data.lua`,
          raw: `${results}/${scenario}-${label.replace(/\W/g, "_")}-warm.txt`,
        });
      }
    const runs = here.map(() => [] as Result[]);
    for (let i = 1; i <= Number(args.repeat); i++) {
      for (const [t, { label, running, sidecarPid }] of here.entries()) {
        await fresh();
        log(`${scenario}: ${label} (${i})`);
        const before = sidecarPid ? cpuSeconds(sidecarPid) : 0;
        const result = await wrk(running.url, {
          seconds,
          connections,
          scenario,
          dataFile: `${tmp}/data.lua`,
          raw: `${results}/${scenario}-${label.replace(/\W/g, "_")}-${i}.txt`,
          serverPid: running.proc.pid,
        });
        if (sidecarPid) result.sidecarUsPerRequest = ((cpuSeconds(sidecarPid) - before) * 1e6) / result.requests;
        log(
          `  ${Math.round(result.rps)} req/s, p99 ${result.p99.toFixed(1)} ms, ${Math.round(result.cpuUsPerRequest ?? 0)} µs CPU/req, ${result.errors} errors`,
        );
        runs[t]!.push(result);
      }
    }
    rows.push({
      scenario,
      db,
      ...(dbBun ? { dbBun } : {}),
      results: Object.fromEntries(here.map(({ label }, t) => [label, median(runs[t]!)])),
    });
  }
  const rssAfter = rssMiB(service.proc.pid);

  const header = [
    `# tasks-api benchmark, ${new Date().toISOString()}`,
    `machine: ${cpus().length} cores (${cpus()[0]?.model}), ${Math.round(totalmem() / 2 ** 30)} GiB; bun ${Bun.version}; wrk -t2 -c${connections} -d${seconds}s`,
    `targets: ${targets.map((t) => t.label).join(", ")}; repeat ${args.repeat} (median kept); ${args.warm} s of each scenario per target before it is measured`,
    `service: compiled binary, DB_POOL_MAX=${args.pool}, request log to ${args["server-log"]}; RSS ${rssAtRest} MiB at rest, ${rssAfter} MiB after the run`,
    "limits: RATE_LIMIT_PER_MINUTE=0, USER_CONCURRENCY=0, MAX_TASKS_PER_USER=0 (fair share off: the figures are the service's own)",
    `data: ${USERS} users x ${TASKS_PER_USER} tasks (reset before each run); DELETE pool ${deletePoolPerUser} per user`,
  ].join("\n");
  const ratios = rows
    .filter((r) => r.results[POOLED])
    .map(
      ({ scenario, results: { service: direct, [POOLED]: viaPooler } }) =>
        `${scenario}: through PgBouncer ${Math.round(viaPooler!.rps)} req/s, direct ${Math.round(direct!.rps)} req/s: ${(viaPooler!.rps / direct!.rps).toFixed(2)}x (errors ${viaPooler!.errors} / ${direct!.errors}; PgBouncer's own CPU ${Math.round(viaPooler!.sidecarUsPerRequest ?? 0)} µs/req)`,
    );
  const pooledNote = ratios.length
    ? `\n\npooled / direct (${Bun.spawnSync([pgbouncerBinary!, "--version"]).stdout.toString().split("\n")[0]}, transaction mode, max_prepared_statements=200, default_pool_size=${args.pool}):\n${ratios.join("\n")}`
    : "";
  const report = `${header}\n\n${table(rows, helloResult)}${pooledNote}\n`;
  await Bun.write(`${results}/table.md`, report);
  await Bun.write(
    `${results}/results.json`,
    JSON.stringify({ rows, hello: helloResult, rssAtRest, rssAfter, args }, null, 2),
  );
  console.log(`\n${report}\nraw results: ${results}`);
} catch (error) {
  console.error(`bench: ${(error as Error)?.message ?? error}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
