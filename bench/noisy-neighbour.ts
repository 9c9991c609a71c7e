// `bun run bench:noisy [--seconds 15] [--rounds 2] [--victims 1000] [--connections 100]
// [--attacker-connections 32] [--rate-per-minute 600] [--tarpit-ms 1000] [--pool 10] [--server-log /dev/null] [--admin-url postgres://...]`
// Does one user's flood of expensive lists slow everybody else down? A fresh database, the compiled
// service with the fair-share limits at their defaults, --victims users x 20 tasks (through the API) and
// one attacker holding MAX_TASKS_PER_USER tasks. Each round runs the bench's mix for the victims under wrk
// twice: alone, then with the attacker's own wrk sending deep lists (offsets near the middle, sort=-title,
// limit 500, cursor pages) at full speed. It prints the victims' latency and req/s of both runs with
// their ratio, every status class of both sides, and the most server connections of the service seen
// in pg_stat_activity while it ran (sampled every 50 ms), then stops everything and drops the database.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { makeUsers, resetTasks, seedTasks, writeData } from "./seed";
import { buildBinary, freePort, type Running, startService } from "./server";
import { ensureWrk } from "./wrk";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "15" },
    rounds: { type: "string", default: "2" },
    victims: { type: "string", default: "1000" },
    connections: { type: "string", default: "100" },
    "attacker-connections": { type: "string", default: "32" },
    pool: { type: "string", default: "10" },
    "rate-per-minute": { type: "string", default: "600" },
    "tarpit-ms": { type: "string", default: "1000" },
    "server-log": { type: "string", default: "/dev/null" },
    "admin-url": {
      type: "string",
      default: process.env.BENCH_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    },
  },
});
const seconds = Number(args.seconds),
  rounds = Number(args.rounds),
  victims = Number(args.victims);
const connections = Number(args.connections),
  attackerConnections = Number(args["attacker-connections"]),
  poolMax = Number(args.pool);
const TASKS_PER_VICTIM = 20;
/** The service's default MAX_TASKS_PER_USER: the attacker holds as many tasks as one user may. */
const ATTACKER_TASKS = 10_000;
/** What the service sets as application_name on its connections (src/db/client.ts). */
const APP_NAME = "tasks-api";

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const results = `${import.meta.dir}/results/noisy-${stamp}`;
mkdirSync(results, { recursive: true });
const tmp = mkdtempSync(`${tmpdir()}/tasks-noisy-`);
const log = (msg: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

const dbName = `tasks_noisy_${process.pid}`;
const admin = postgres(args["admin-url"]!, { max: 1, onnotice: () => {} });
const dbUrl = Object.assign(new URL(args["admin-url"]!), { pathname: `/${dbName}` }).toString();
let service: Running | undefined;
let sql: postgres.Sql | undefined;

async function cleanup() {
  await service?.stop();
  await sql?.end();
  await admin.unsafe(`drop database if exists "${dbName}" with (force)`).catch(() => {});
  await admin.end();
  rmSync(tmp, { recursive: true, force: true });
}
process.on("SIGINT", () => void cleanup().finally(() => process.exit(130)));

interface Run {
  rps: number;
  requests: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  ok: number;
  r429: number;
  r5xx: number;
  other: number;
  socketErrors: number;
  timeouts: number;
}

/** One wrk of bench/noisy.lua in `role`; `env` carries the role's inputs. */
async function wrk(
  url: string,
  role: "victims" | "attacker",
  conns: number,
  threads: number,
  env: Record<string, string>,
  raw: string,
  secs = seconds,
): Promise<Run> {
  const cmd = [
    "wrk",
    `-t${threads}`,
    `-c${conns}`,
    `-d${secs}s`,
    "--timeout",
    "5s",
    "-s",
    `${import.meta.dir}/noisy.lua`,
    url,
  ];
  const proc = Bun.spawn(cmd, {
    env: { ...process.env, ROLE: role, WRK_THREADS: String(threads), ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  await Bun.write(raw, `$ ${cmd.join(" ")}\n${out}${err}`);
  const line = out.split("\n").find((l) => l.startsWith("BENCH_NOISY "));
  if (proc.exitCode !== 0 || !line) throw new Error(`wrk (${role}) failed (${proc.exitCode}): ${err || out}`);
  const r = JSON.parse(line.slice("BENCH_NOISY ".length));
  return {
    rps: r.requests / (r.duration_us / 1e6),
    requests: r.requests,
    p50: r.p50_us / 1000,
    p95: r.p95_us / 1000,
    p99: r.p99_us / 1000,
    max: r.max_us / 1000,
    ok: r.ok,
    r429: r.r429,
    r5xx: r.r5xx,
    other: r.other,
    socketErrors: r.socket_errors,
    timeouts: r.timeouts,
  };
}

/** Samples the service's server connections (all, and those running a statement) until stopped. */
function sampleBackends() {
  let stopped = false,
    max = 0,
    maxActive = 0,
    samples = 0;
  const done = (async () => {
    while (!stopped) {
      const [row] = await admin<{ all: number; active: number }[]>`
        select count(*)::int as all, (count(*) filter (where state = 'active'))::int as active
        from pg_stat_activity where datname = ${dbName} and application_name = ${APP_NAME}`;
      max = Math.max(max, row!.all);
      maxActive = Math.max(maxActive, row!.active);
      samples++;
      await Bun.sleep(50);
    }
  })();
  return async () => {
    stopped = true;
    await done;
    return { max, maxActive, samples };
  };
}

/** The attacker's tasks by SQL (10,000 POSTs would take the rate limit 17 minutes), then the recount. */
async function seedAttacker(userId: string) {
  await sql!`
    insert into tasks (title, user_id, status, created_at, updated_at)
    select md5(${userId} || i::text), ${userId}, (array['pending', 'in_progress', 'completed'])[1 + i % 3],
      now() - i * interval '1 second', now() - (i * 7 % ${ATTACKER_TASKS}) * interval '1 second'
    from generate_series(1, ${ATTACKER_TASKS}) i`;
  await recount();
}

/** The per-user counters recounted from the tasks table: the backfill migration's own statements. */
async function recount() {
  const statements = readFileSync(`${import.meta.dir}/../drizzle/0004_backfill_task_counts.sql`, "utf8").split(
    "--> statement-breakpoint",
  );
  await sql!.begin(async (tx) => {
    for (const statement of statements) await tx.unsafe(statement);
  });
}

try {
  ensureWrk();
  log(`building the service binary; database ${dbName}`);
  await buildBinary(`${tmp}/tasks-api`);
  await admin.unsafe(`create database "${dbName}"`);
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
  // Fair-share limits and the task quota at their defaults: they are what is being measured. Enough
  // victims that the mix stays inside each one's budget (a burst of 100, then 10/s): 1,000 users allow
  // 250,000 requests in 15 s, more than this mix reaches (400 no longer were: the mix reached 7,000 req/s); --rate-per-minute raises every user's budget,
  // the attacker's included.
  const env = {
    DATABASE_URL: dbUrl,
    BETTER_AUTH_SECRET: secret,
    DB_POOL_MAX: String(poolMax),
    RATE_LIMIT_PER_MINUTE: args["rate-per-minute"]!,
    RATE_LIMIT_TARPIT_MS: args["tarpit-ms"]!,
  };
  service = await startService(`${tmp}/tasks-api`, env, freePort(), args["server-log"]!);
  sql = postgres(dbUrl, { max: 2, onnotice: () => {} });

  const users = await makeUsers(secret, victims + 1);
  const attacker = users.pop()!;
  log(
    `seeding: the attacker's ${ATTACKER_TASKS} tasks (SQL, counters recounted), ${victims} victims x ${TASKS_PER_VICTIM} (API)`,
  );
  // The attacker first: resetTasks drops every task above the victims' highest id.
  await seedAttacker(attacker.userId);
  await seedTasks(service.url, users, TASKS_PER_VICTIM);
  await writeData(tmp, users);
  await sql`vacuum analyze tasks`;

  // The attacker's paths: offsets near the middle (the longest walk, see docs/benchmarks.md), near the
  // end, with a status filter, and cursor pages deep into the list; limit 500 (the most one page holds).
  const attackerGet = async (path: string) => {
    const res = await fetch(`${service!.url}${path}`, { headers: { authorization: `Bearer ${attacker.token}` } });
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
    const total = res.headers.get("x-total-count");
    if (total !== String(ATTACKER_TASKS) && !path.includes("status="))
      throw new Error(`X-Total-Count of the attacker is ${total}`);
    return res.headers.get("link")?.match(/<([^>]+)>/)?.[1];
  };
  const paths = [
    "/api/tasks?limit=500&offset=4999&sort=-title",
    "/api/tasks?limit=500&offset=4500&sort=title",
    "/api/tasks?limit=500&offset=9000&sort=-title",
    "/api/tasks?limit=500&status=completed&offset=1500&sort=-title",
    "/api/tasks?limit=500&offset=4999&sort=-created_at",
  ];
  for (const start of [
    "/api/tasks?limit=500&offset=5000&sort=-title",
    "/api/tasks?limit=500&offset=8000&sort=-title",
    "/api/tasks?limit=500&offset=6000&sort=updated_at",
  ]) {
    const next = await attackerGet(start);
    if (!next) throw new Error(`${start} handed out no Link`);
    paths.push(next);
  }
  await Bun.write(`${tmp}/attack-paths.txt`, `${paths.join("\n")}\n`);
  const victimEnv = { TASKS_LUA: `${import.meta.dir}/tasks.lua`, SCENARIO: "mix", BENCH_DATA: `${tmp}/data.lua` };
  const attackerEnv = { ATTACK_TOKEN: attacker.token, ATTACK_PATHS: `${tmp}/attack-paths.txt` };

  log("warm-up: 3 s of the mix (not recorded)");
  await wrk(service.url, "victims", connections, 2, victimEnv, `${results}/warmup.txt`, 3);

  const fresh = async () => {
    await resetTasks(sql!, users);
    await recount();
    // The victims' rate-limit buckets refill (burst 100 at 10/s) so each run starts alike.
    await Bun.sleep(10_000);
  };
  const rows: {
    round: number;
    alone: Run;
    attacked: Run;
    attacker: Run;
    backends: {
      alone: Awaited<ReturnType<ReturnType<typeof sampleBackends>>>;
      attacked: Awaited<ReturnType<ReturnType<typeof sampleBackends>>>;
    };
  }[] = [];
  for (let round = 1; round <= rounds; round++) {
    await fresh();
    log(`round ${round}: the mix alone`);
    let stop = sampleBackends();
    const alone = await wrk(service.url, "victims", connections, 2, victimEnv, `${results}/alone-${round}.txt`);
    const backendsAlone = await stop();
    await fresh();
    log(`round ${round}: the mix with the attacker`);
    stop = sampleBackends();
    const [attacked, attackerRun] = await Promise.all([
      wrk(service.url, "victims", connections, 2, victimEnv, `${results}/attacked-${round}.txt`),
      wrk(service.url, "attacker", attackerConnections, 1, attackerEnv, `${results}/attacker-${round}.txt`),
    ]);
    rows.push({
      round,
      alone,
      attacked,
      attacker: attackerRun,
      backends: { alone: backendsAlone, attacked: await stop() },
    });
  }

  const ms = (v: number) => v.toFixed(v < 10 ? 2 : 1);
  const int = (v: number) => Math.round(v).toLocaleString("en-US");
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  const statuses = (r: Run) =>
    `${int(r.ok)} / ${int(r.r429)} / ${r.r5xx} / ${r.other} / ${r.socketErrors + r.timeouts}`;
  const lines = [
    `# noisy neighbour, ${new Date().toISOString()}`,
    `machine: ${cpus().length} cores, load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")} at the end; bun ${Bun.version}`,
    `service: compiled binary, DB_POOL_MAX=${poolMax}; fair share at the defaults (RATE_LIMIT_PER_MINUTE=${args["rate-per-minute"]}, RATE_LIMIT_BURST=100, RATE_LIMIT_TARPIT_MS=${args["tarpit-ms"]}, USER_CONCURRENCY=4, USER_QUEUE_TIMEOUT_MS=2000, MAX_TASKS_PER_USER=10000)`,
    `victims: ${victims} users x ${TASKS_PER_VICTIM} tasks, the bench's mix (60 % GET, 20 % list, 10 % POST, 10 % PUT), wrk -t2 -c${connections} -d${seconds}s`,
    `attacker: 1 user x ${ATTACKER_TASKS} tasks, wrk -t1 -c${attackerConnections} -d${seconds}s, in turn: ${paths.map((p) => p.replace(/cursor=[^&]+/, "cursor=…")).join(", ")}`,
    "",
    "| round | victims | req/s | p50 ms | p95 ms | p99 ms | 2xx / 429 / 5xx / other / socket | backends max (active) |",
    "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
  ];
  for (const { round, alone, attacked, attacker: a, backends } of rows) {
    lines.push(
      `| ${round} | alone | ${int(alone.rps)} | ${ms(alone.p50)} | ${ms(alone.p95)} | ${ms(alone.p99)} | ${statuses(alone)} | ${backends.alone.max} (${backends.alone.maxActive}) |`,
    );
    lines.push(
      `| ${round} | with attacker | ${int(attacked.rps)} | ${ms(attacked.p50)} | ${ms(attacked.p95)} | ${ms(attacked.p99)} | ${statuses(attacked)} | ${backends.attacked.max} (${backends.attacked.maxActive}) |`,
    );
    lines.push(
      `| ${round} | ratio | ${x(attacked.rps, alone.rps)} | ${x(attacked.p50, alone.p50)} | ${x(attacked.p95, alone.p95)} | ${x(attacked.p99, alone.p99)} | | |`,
    );
    lines.push(
      `| ${round} | (attacker) | ${int(a.rps)} | ${ms(a.p50)} | ${ms(a.p95)} | ${ms(a.p99)} | ${statuses(a)} | |`,
    );
  }
  const fives = rows.reduce((n, r) => n + r.alone.r5xx + r.attacked.r5xx + r.attacker.r5xx, 0);
  const victim429 = rows.reduce((n, r) => n + r.alone.r429 + r.attacked.r429, 0);
  const backendMax = Math.max(...rows.flatMap((r) => [r.backends.alone.max, r.backends.attacked.max]));
  const worst = Math.max(...rows.map((r) => r.attacked.p99 / r.alone.p99));
  lines.push(
    "",
    `5xx: ${fives}; victims' 429: ${victim429}; service backends at most ${backendMax} (DB_POOL_MAX ${poolMax}); worst victims' p99 ratio ${worst.toFixed(2)}x (target: within 2x)`,
  );
  const report = lines.join("\n");
  await Bun.write(`${results}/table.md`, `${report}\n`);
  await Bun.write(`${results}/results.json`, JSON.stringify({ rows, paths, args }, null, 2));
  console.log(`\n${report}\nraw results: ${results}`);
  if (victim429)
    console.log("the victims were rate-limited: their figures include fast 429s; rerun with more --victims");
  if (backendMax > poolMax) process.exitCode = 1;
} catch (error) {
  console.error(`bench: ${(error as Error)?.message ?? error}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
