// The real entry point in a child process: startup, commands, graceful shutdown.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hs256Verifier } from "../src/auth/verifier";
import { SECRET, tokenFor } from "./support/app";
import { expectNoLeaks } from "./support/hygiene";
import { baseEnv, serverDatabase, startServer as startServer_ } from "./support/server";

/** Resolves once `condition` holds (checked every 10 ms); fails the test after `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs = 20_000) {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`condition not met after ${timeoutMs} ms`);
    await Bun.sleep(10);
  }
}

let env: Record<string, string>;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  // One user's load from many connections: the fair-share limits (tested on their own) are off.
  const database = await serverDatabase("tasks_server");
  cleanup = database.cleanup;
  env = {
    ...baseEnv(),
    BETTER_AUTH_SECRET: SECRET,
    RATE_LIMIT_PER_MINUTE: "0",
    USER_CONCURRENCY: "0",
    ...database.env,
  };
});
afterAll(() => cleanup());

const cli = (...args: string[]) =>
  Bun.spawnSync(["bun", "src/index.ts", ...args], { env, stdout: "pipe", stderr: "pipe", timeout: 30_000 });

const startServer = (extraEnv: Record<string, string> = {}) => startServer_({ ...env, ...extraEnv });

describe("the server process", () => {
  test("db:migrate applies the migrations once and is idempotent", () => {
    const first = cli("migrate");
    expect(first.exitCode).toBe(0);
    // Whatever the shared test database already has: the first run applies what is missing, if anything.
    expect(first.stdout.toString()).toMatch(/migrations: \d+ applied/);
    const again = cli("migrate");
    expect(again.stdout.toString()).toContain("migrations: 0 applied");
  }, 60_000);

  test("token --sub prints a token the server accepts; SIGTERM lets an in-flight request finish and exits 0", async () => {
    const token = cli("token", "--sub", "alice", "--ttl", "10m").stdout.toString().trim();
    expect(token.split(".").length).toBe(3);

    const server = await startServer();
    console.log(`startup to listening: ${server.readyMs.toFixed(0)} ms`);
    const created = await fetch(`${server.url}/api/tasks`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ title: "from a real server" }),
    });
    expect(created.status).toBe(201);
    expect(((await created.json()) as any).user_id).toBe("alice");

    // A request whose body is still arriving when SIGTERM comes: it must complete normally.
    const body = new ReadableStream({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode('{"title": "in '));
        await Bun.sleep(700);
        controller.enqueue(new TextEncoder().encode('flight"}'));
        controller.close();
      },
    });
    const inFlight = fetch(`${server.url}/api/tasks`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body,
    });
    await Bun.sleep(200);
    const signalled = performance.now();
    server.proc.kill("SIGTERM");
    const res = await inFlight;
    expect(res.status).toBe(201);
    expect(((await res.json()) as any).title).toBe("in flight");
    expect(await server.proc.exited).toBe(0);
    expect(performance.now() - signalled).toBeLessThan(10_000);
    expect(
      await fetch(`${server.url}/health`).then(
        () => "answered",
        () => "refused",
      ),
    ).toBe("refused");
    expect(server.lines.join("\n")).not.toContain(token);
  }, 60_000);

  test("SIGTERM under load stops accepting, completes every request it accepted, closes the pool and exits 0 within 10 s", async () => {
    const server = await startServer();
    const token = await tokenFor("under-load");
    const outcomes: { id: string; status?: number; error?: string }[] = [];
    const post = async (id: string, body: string | ReadableStream) => {
      try {
        // A new connection per request: a request is then either refused or accepted, never half-sent on a reused socket.
        const res = await fetch(`${server.url}/api/tasks`, {
          method: "POST",
          keepalive: false,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "x-request-id": id },
          body,
        });
        outcomes.push({ id, status: res.status });
        return res.status;
      } catch (error) {
        outcomes.push({ id, error: (error as any)?.code ?? String(error) });
        return 0;
      }
    };
    const worker = async (w: number) => {
      for (let i = 0; ; i++)
        if ((await post(`load-${w}-${i}`, JSON.stringify({ title: `load ${w}-${i}` }))) === 0) return;
    };
    const workers = [1, 2, 3, 4, 5, 6].map(worker);
    await until(() => outcomes.length >= 30); // the load is on
    // Requests whose bodies are still arriving when the signal comes.
    const slow = [1, 2, 3].map((n) =>
      post(
        `slow-${n}`,
        new ReadableStream({
          async start(controller) {
            controller.enqueue(new TextEncoder().encode('{"title": "slow '));
            await Bun.sleep(1000);
            controller.enqueue(new TextEncoder().encode(`${n}"}`));
            controller.close();
          },
        }),
      ),
    );
    await Bun.sleep(200);
    const signalled = performance.now();
    server.proc.kill("SIGTERM");
    const exitCode = await server.proc.exited;
    const shutdownMs = performance.now() - signalled;
    await Promise.all([...workers, ...slow]);

    expect(exitCode).toBe(0);
    expect(shutdownMs).toBeLessThan(10_000);
    const answered = outcomes.filter((o) => o.status !== undefined);
    const failed = outcomes.filter((o) => o.error !== undefined);
    expect(answered.filter((o) => o.status !== 201)).toEqual([]);
    for (const n of [1, 2, 3]) expect(outcomes.find((o) => o.id === `slow-${n}`)?.status).toBe(201);
    // A request that got no answer (refused, or reset in the kernel's backlog as the listener closed)
    // never reached the app: the server logged no request line for it, while it logged every answered one.
    const logged = new Set(
      server
        .logs()
        .filter((l) => l.msg === "request")
        .map((l) => l.request_id),
    );
    expect(failed.filter((o) => logged.has(o.id))).toEqual([]);
    expect(answered.filter((o) => !logged.has(o.id))).toEqual([]);
    expect(server.logs().some((l) => l.msg === "stopped")).toBe(true);
    expectNoLeaks({ logs: server.lines, secrets: [token] });
    console.log(
      `SIGTERM under load: exit 0 after ${shutdownMs.toFixed(0)} ms; ${answered.length} requests answered 201 (3 slow uploads among them), ${failed.length} refused after the listener closed (${[...new Set(failed.map((o) => o.error))].join(", ")})`,
    );
  }, 60_000);

  test("SIGKILL in the middle of a write load loses nothing acknowledged: after a restart every 201 is there with its data, and nothing half-written is", async () => {
    const server = await startServer();
    const user = `killed-${crypto.randomUUID()}`;
    const token = await tokenFor(user);
    const descriptionOf = (title: string) => `${title} `.repeat(40);
    const acknowledged = new Map<number, any>();
    let killed = false;
    const worker = async (w: number) => {
      for (let i = 0; !killed; i++) {
        const title = `write ${w}-${i}`;
        try {
          const res = await fetch(`${server.url}/api/tasks`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ title, description: descriptionOf(title), status: "in_progress" }),
          });
          if (res.status === 201) {
            const task = (await res.json()) as any;
            acknowledged.set(task.id, task);
          }
        } catch {
          return;
        }
      }
    };
    const workers = [1, 2, 3, 4, 5, 6].map(worker);
    await until(() => acknowledged.size >= 100); // a write load in full swing
    server.proc.kill("SIGKILL");
    killed = true;
    expect(await server.proc.exited).not.toBe(0);
    await Promise.all(workers);

    const restarted = await startServer();
    try {
      const stored: any[] = [];
      for (let offset = 0; ; offset += 500) {
        const page = (await (
          await fetch(`${restarted.url}/api/tasks?limit=500&offset=${offset}`, {
            headers: { authorization: `Bearer ${token}` },
          })
        ).json()) as any[];
        stored.push(...page);
        if (page.length < 500) break;
      }
      const byId = new Map(stored.map((t) => [t.id, t]));
      const lost = [...acknowledged.values()].filter((t) => JSON.stringify(byId.get(t.id)) !== JSON.stringify(t));
      expect(lost).toEqual([]);
      const halfWritten = stored.filter(
        (t) => t.description !== descriptionOf(t.title) || t.status !== "in_progress" || t.user_id !== user,
      );
      expect(halfWritten).toEqual([]);
      expect(acknowledged.size).toBeGreaterThan(0);
      expectNoLeaks({ logs: [...server.lines, ...restarted.lines], secrets: [token] });
      console.log(
        `SIGKILL mid-load: ${acknowledged.size} writes acknowledged, all present after restart; ${stored.length - acknowledged.size} more committed without their answer reaching the client`,
      );
    } finally {
      restarted.proc.kill("SIGTERM");
      await restarted.proc.exited;
    }
  }, 60_000);

  test("token refuses to run without a configured secret", () => {
    const { BETTER_AUTH_SECRET: _, ...withoutSecret } = env;
    const result = Bun.spawnSync(["bun", "src/index.ts", "token", "--sub", "alice"], {
      env: withoutSecret,
      stderr: "pipe",
      stdout: "pipe",
    });
    expect(result.exitCode).toBe(1);
    expect(result.stderr.toString()).toContain("BETTER_AUTH_SECRET");
  }, 30_000);

  test("token works wherever the secret is set, production without DATABASE_URL included", async () => {
    const secret = "a-production-secret-of-enough-length-0123456789";
    const result = Bun.spawnSync(["bun", "src/index.ts", "token", "--sub", "alice", "--ttl", "5m"], {
      env: { PATH: process.env.PATH, NODE_ENV: "production", BETTER_AUTH_SECRET: secret },
      stderr: "pipe",
      stdout: "pipe",
    });
    expect(result.stderr.toString()).toBe("");
    expect(result.exitCode).toBe(0);
    const { userId } = await hs256Verifier(secret, {}).verify(result.stdout.toString().trim());
    expect(userId).toBe("alice");
  }, 30_000);
});
