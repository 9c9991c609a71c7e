// `tasks-api healthcheck`, as the container runtime runs it: src/main.ts, the compiled executable's
// entry, against a real server process. Exit 0 only while the server is ready.
import { describe, expect, test } from "bun:test";
import { createFreshDatabase } from "./setup";
import { SECRET } from "./support/app";
import { freePort } from "./support/cluster";
import { baseEnv, startServer } from "./support/server";

async function runMain(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(["bun", "src/main.ts", ...args], {
    env: { ...baseEnv(), BETTER_AUTH_SECRET: SECRET, ...env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 20_000,
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { exitCode, output: stdout + stderr };
}

const healthcheck = (port: number | string) => runMain(["healthcheck"], { PORT: String(port) });
const portOf = (url: string) => new URL(url).port;

describe("tasks-api healthcheck", () => {
  test("exits 0 while the server is ready, silently", async () => {
    const database = await createFreshDatabase();
    const server = await startServer({ ...baseEnv(), BETTER_AUTH_SECRET: SECRET, DATABASE_URL: database.url });
    try {
      expect(await healthcheck(portOf(server.url))).toEqual({ exitCode: 0, output: "" });
    } finally {
      server.proc.kill("SIGKILL");
      await server.proc.exited;
      await database.drop();
    }
  }, 30_000);

  test("exits 1 while the server listens but its database is not there (readiness 503)", async () => {
    const unreachable = `postgres://tasks:hunter2-secret@127.0.0.1:${freePort()}/tasks`;
    const server = await startServer(
      { ...baseEnv(), BETTER_AUTH_SECRET: SECRET, DATABASE_URL: unreachable, DB_STARTUP_TIMEOUT_MS: "30000" },
      { until: "listening" },
    );
    try {
      expect(await healthcheck(portOf(server.url))).toEqual({ exitCode: 1, output: "" });
    } finally {
      server.proc.kill("SIGKILL");
    }
  }, 30_000);

  test("exits 1 when nothing listens on PORT, and when the configuration is invalid", async () => {
    expect(await healthcheck(freePort())).toEqual({ exitCode: 1, output: "" });
    expect((await healthcheck("not-a-port")).exitCode).toBe(1);
  }, 30_000);

  test("every other command goes to the service's entry point", async () => {
    const { exitCode, output } = await runMain(["no-such-command"]);
    expect(exitCode).toBe(1);
    expect(output).toContain('unknown command "no-such-command"');
  }, 30_000);
});
