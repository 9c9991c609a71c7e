// `bun bench/profile.ts [list,update] [--seconds 10]`: CPU profiles of the service (from source, under
// `bun --cpu-prof --cpu-prof-md`) while wrk drives one scenario of bench/tasks.lua, one server process
// per scenario; the profiles (.cpuprofile for Chrome DevTools, .md for reading) go to
// bench/results/profile-<time>/. Same data and load as `bun run bench`.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { makeUsers, resetTasks, seedTasks, writeData } from "./seed";
import { freePort } from "./server";
import { ensureWrk, wrk } from "./wrk";

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: "string", default: "10" },
    "admin-url": {
      type: "string",
      default: process.env.BENCH_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    },
  },
});
const scenarios = (positionals[0] ?? "list,update").split(",");
const out = `${import.meta.dir}/results/profile-${new Date().toISOString().replace(/[:.]/g, "-")}`;
mkdirSync(out, { recursive: true });
const tmp = mkdtempSync(`${tmpdir()}/tasks-profile-`);
const dbName = `tasks_profile_${process.pid}`;
const admin = postgres(args["admin-url"]!, { max: 1, onnotice: () => {} });
const dbUrl = Object.assign(new URL(args["admin-url"]!), { pathname: `/${dbName}` }).toString();
const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");

ensureWrk();
await admin.unsafe(`create database "${dbName}"`);
const sql = postgres(dbUrl, { max: 2, onnotice: () => {} });
try {
  const users = await makeUsers(secret, 100);
  let seeded = false;
  for (const scenario of scenarios) {
    const port = freePort();
    const proc = Bun.spawn(
      [
        "bun",
        "--cpu-prof",
        "--cpu-prof-md",
        `--cpu-prof-dir=${out}`,
        `--cpu-prof-name=${scenario}`,
        `${import.meta.dir}/../src/index.ts`,
      ],
      {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOST: "127.0.0.1",
          PORT: String(port),
          NODE_ENV: "production",
          DATABASE_URL: dbUrl,
          BETTER_AUTH_SECRET: secret,
          RATE_LIMIT_PER_MINUTE: "0",
          USER_CONCURRENCY: "0",
          MAX_TASKS_PER_USER: "0",
          SHUTDOWN_DRAIN_MS: "0",
        },
        stdout: "ignore",
        stderr: "inherit",
      },
    );
    const url = `http://127.0.0.1:${port}`;
    for (
      let i = 0;
      i < 200 &&
      !(await fetch(`${url}/health/ready`).then(
        (r) => r.ok,
        () => false,
      ));
      i++
    )
      await Bun.sleep(100);
    if (!seeded) {
      await seedTasks(url, users, 20);
      seeded = true;
    }
    await resetTasks(sql, users);
    await writeData(tmp, users);
    await wrk(url, {
      // The scenario itself, so the profile's first seconds (JIT warm-up included) are of the same requests.
      seconds: 3,
      connections: 100,
      scenario,
      dataFile: `${tmp}/data.lua`,
      raw: `${out}/warmup.txt`,
    });
    await resetTasks(sql, users);
    await writeData(tmp, users);
    const result = await wrk(url, {
      seconds: Number(args.seconds),
      connections: 100,
      scenario,
      dataFile: `${tmp}/data.lua`,
      raw: `${out}/${scenario}.txt`,
      serverPid: proc.pid,
    });
    console.log(
      `${scenario}: ${Math.round(result.rps)} req/s, ${Math.round(result.cpuUsPerRequest ?? 0)} µs CPU per request (profiled)`,
    );
    proc.kill("SIGTERM");
    await proc.exited;
  }
  console.log(`profiles: ${out}\n${readdirSync(out).join("\n")}`);
} finally {
  await sql.end();
  await admin.unsafe(`drop database if exists "${dbName}" with (force)`).catch(() => {});
  await admin.end();
  rmSync(tmp, { recursive: true, force: true });
}
