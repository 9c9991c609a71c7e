// Startup against a database that is not there yet, or never comes: the real entry point.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SECRET, tokenFor } from "./support/app";
import { clusterAvailable, freePort, startTempCluster, type TempCluster } from "./support/cluster";
import { expectNoLeaks } from "./support/hygiene";
import { CLUSTER, missing } from "./support/requires";
import { baseEnv, parseLogs, runToExit, startServer, waitForLog } from "./support/server";

describe("startup with an unreachable database", () => {
  test("it is retried with backoff for DB_STARTUP_TIMEOUT_MS, then the process exits 1 with one clear line and no password", async () => {
    const url = `postgres://tasks:hunter2-secret@127.0.0.1:${freePort()}/tasks`;
    const result = await runToExit({
      ...baseEnv(),
      BETTER_AUTH_SECRET: SECRET,
      DATABASE_URL: url,
      DB_STARTUP_TIMEOUT_MS: "1500",
    });
    expect(result.exitCode).toBe(1);
    const stderr = result.stderr.trim();
    expect(stderr.split("\n").length).toBe(1);
    expect(stderr).toContain("database unreachable after 1500 ms (DB_STARTUP_TIMEOUT_MS)");
    const retries = parseLogs(result.stdout.split("\n")).filter((l) =>
      l.msg.startsWith("database unreachable at startup"),
    );
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(retries[1]!.retry_in_ms).toBeGreaterThan(retries[0]!.retry_in_ms);
    expect(result.ms).toBeGreaterThanOrEqual(1500);
    expect(result.ms).toBeLessThan(15_000);
    expectNoLeaks({ answers: [stderr], logs: [result.stdout, stderr], secrets: ["hunter2-secret"] });
    console.log(`unreachable database at startup: exit 1 after ${result.ms.toFixed(0)} ms, ${retries.length} retries`);
  }, 30_000);
});

describe.skipIf(missing(clusterAvailable, CLUSTER))("startup against a real PostgreSQL", () => {
  let cluster: TempCluster;
  beforeAll(() => {
    cluster = startTempCluster();
  }, 60_000);
  afterAll(() => cluster?.destroy());

  test("a database that comes up during the startup wait is used: the server becomes ready without a restart", async () => {
    const env = { ...baseEnv(), BETTER_AUTH_SECRET: SECRET, DATABASE_URL: cluster.url, DB_STARTUP_TIMEOUT_MS: "30000" };
    const ready = await startServer(env);
    console.log(
      `startup to ready (database up, migrations applied): ${ready.readyMs.toFixed(0)} ms; the service logs startup_ms=${ready.logs().find((l) => l.msg === "ready")?.startup_ms}`,
    );
    ready.proc.kill("SIGTERM");
    expect(await ready.proc.exited).toBe(0);

    cluster.stop("fast");
    // Listening, and has found the database unreachable at least once: it is in the startup wait.
    const server = await startServer(env, { until: "listening" });
    try {
      await waitForLog(server, (l) => l.msg.startsWith("database unreachable at startup"));
      const restarted = performance.now();
      cluster.start();
      await waitForLog(server, (l) => l.msg === "ready", 30_000);
      const afterDatabase = performance.now() - restarted;
      const token = await tokenFor("starter");
      const res = await fetch(`${server.url}/api/tasks`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ title: "after a late database" }),
      });
      expect(res.status).toBe(201);
      console.log(
        `startup waiting for the database: ready ${afterDatabase.toFixed(0)} ms after PostgreSQL accepted connections`,
      );
      server.proc.kill("SIGTERM");
      expect(await server.proc.exited).toBe(0);
      expectNoLeaks({ logs: [...ready.lines, ...server.lines], secrets: [token, cluster.password] });
    } finally {
      server.proc.kill("SIGKILL");
    }
  }, 60_000);
});
