// Connections killed with pg_terminate_backend under load, against the real server process: postgres.js
// on Bun sometimes lets a killed socket's error escape its handlers, and the process must keep serving.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { SECRET, tokenFor } from "./support/app";
import { clusterAvailable, startTempCluster, type TempCluster } from "./support/cluster";
import { expectNoLeaks } from "./support/hygiene";
import { CLUSTER, missing } from "./support/requires";
import { baseEnv, type ServerProcess, startServer } from "./support/server";

describe.skipIf(missing(clusterAvailable, CLUSTER))("connections killed while serving", () => {
  let cluster: TempCluster;
  let server: ServerProcess | undefined;
  beforeAll(() => {
    cluster = startTempCluster();
  }, 60_000);
  afterAll(() => {
    server?.proc.kill("SIGKILL");
    cluster?.destroy();
  });

  test("with every connection killed by pg_terminate_backend under load, nothing answers 500, the process keeps running, and it serves again within 5 s", async () => {
    server = await startServer({
      ...baseEnv(),
      BETTER_AUTH_SECRET: SECRET,
      DATABASE_URL: cluster.url,
      DB_POOL_MAX: "4",
      RATE_LIMIT_PER_MINUTE: "0",
      USER_CONCURRENCY: "0",
    });
    const token = await tokenFor(`killed-${crypto.randomUUID()}`);
    const answers: string[] = [];
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server!.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      answers.push(text);
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };
    const timeUntilServing = async () => {
      const started = performance.now();
      while (performance.now() - started < 10_000) {
        if ((await call("GET", "/api/tasks?limit=1")).status === 200) return performance.now() - started;
        await Bun.sleep(25);
      }
      return Infinity;
    };
    const admin = postgres(cluster.url, { max: 1, onnotice: () => {} });
    const killAll = async () =>
      (
        await admin`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where application_name = 'tasks-api'`
      )[0]!.n as number;
    try {
      const seed = await call("POST", "/api/tasks", { title: "seed" });
      expect(seed.status).toBe(201);
      let running = true;
      const statuses: number[] = [];
      const worker = async (n: number) => {
        for (let i = 0; running; i++) {
          const res =
            i % 3 === 0
              ? await call("POST", "/api/tasks", { title: `load ${n}-${i}` })
              : await call("GET", i % 3 === 1 ? "/api/tasks?limit=5" : `/api/tasks/${seed.body.id}`);
          statuses.push(res.status);
          if (res.status === 503) expect(res.body).toEqual({ detail: "Database unavailable" });
        }
      };
      const workers = [1, 2, 3, 4].map(worker);
      let killed = 0;
      for (let round = 0; round < 8; round++) {
        await Bun.sleep(150);
        killed += await killAll();
      }
      running = false;
      await Promise.all(workers);
      const count = (s: number) => statuses.filter((x) => x === s).length;
      console.log(
        `pg_terminate_backend under load: ${killed} connections killed; ${statuses.length} requests: ${count(200)} x 200, ${count(201)} x 201, ${count(503)} x 503`,
      );
      expect(killed).toBeGreaterThan(0);
      expect(
        server
          .logs()
          .filter((l) => l.msg === "unhandled error")
          .map((l) => l.error),
      ).toEqual([]);
      expect(statuses.filter((s) => ![200, 201, 503].includes(s))).toEqual([]);

      // Kill the warm pool once more, then time the first answer served.
      await Promise.all([1, 2, 3, 4].map(() => call("GET", "/api/tasks?limit=1")));
      await killAll();
      const recoveryMs = await timeUntilServing();
      const escaped = server.logs().filter((l) => l.msg === "uncaught exception" || l.msg === "unhandled rejection");
      console.log(
        `pg_terminate_backend of the whole pool: serving again after ${recoveryMs.toFixed(0)} ms; driver errors that escaped postgres.js and were logged: ${escaped.length}`,
      );
      expect(recoveryMs).toBeLessThan(5000);
      expect(server.proc.exitCode).toBeNull();
      expect(server.logs().filter((l) => l.level === "error" && "stack" in l)).toEqual([]);
      expectNoLeaks({ answers, logs: server.lines, secrets: [token, cluster.password] });
    } finally {
      await admin.end({ timeout: 1 });
      server.proc.kill("SIGTERM");
      await server.proc.exited;
    }
  }, 60_000);
});
