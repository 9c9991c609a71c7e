// HTTP/1.1 pipelining against the real server process, over a raw socket. Bun 1.4.5 drops every answer
// on a keep-alive connection when a second request arrives while an async handler still runs
// (docs/development.md has the upstream report); an Idempotency-Key makes the client's retry safe.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { newUser, SECRET, tokenFor } from "./support/app";
import { baseEnv, type ServerProcess, serverDatabase, startServer } from "./support/server";

let server: ServerProcess;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const database = await serverDatabase("tasks_pipelining");
  cleanup = database.cleanup;
  server = await startServer({ ...baseEnv(), BETTER_AUTH_SECRET: SECRET, ...database.env });
}, 60_000);

afterAll(async () => {
  server?.proc.kill("SIGTERM");
  await server?.proc.exited;
  await cleanup?.();
}, 30_000);

/** Writes `raw` in one go on a fresh connection; resolves with every byte received until the server closes or 3 s pass. */
function exchange(raw: string): Promise<{ text: string; closedByServer: boolean }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    let text = "";
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ text, closedByServer });
    };
    const timer = setTimeout(() => {
      finish(false);
      socket.then((s) => s.end());
    }, 3000);
    const socket = Bun.connect({
      hostname,
      port: Number(port),
      socket: {
        open(s) {
          s.write(raw);
        },
        data(_, chunk) {
          text += chunk.toString();
        },
        close() {
          finish(true);
        },
        error(_, error) {
          reject(error);
        },
      },
    });
  });
}

const post = (token: string, body: string, key?: string) =>
  `POST /api/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
  `${key ? `Idempotency-Key: ${key}\r\n` : ""}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const health = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

async function tasksOf(token: string) {
  const res = await fetch(`${server.url}/api/tasks`, { headers: { authorization: `Bearer ${token}` } });
  return (await res.json()) as { id: number; title: string }[];
}

describe("HTTP/1.1 pipelining", () => {
  // What a pipelining client gets today. When this fails because both answers arrive, Bun has fixed
  // the defect: drop the warning in docs/operations.md and the report in docs/development.md.
  test("Bun 1.4.5: a POST and a GET written together get no answer at all, yet the POST is committed", async () => {
    const token = await tokenFor(newUser());
    const { text, closedByServer } = await exchange(post(token, '{"title":"pipelined"}') + health);
    expect({ bytes: text.length, closedByServer }).toEqual({ bytes: 0, closedByServer: true });
    // The connection is closed before the handler is done; wait until its write has committed.
    for (let i = 0; i < 100 && (await tasksOf(token)).length === 0; i++) await Bun.sleep(20);
    expect((await tasksOf(token)).map((t) => t.title)).toEqual(["pipelined"]);
  });

  test("a client that lost its answer and retries with the same Idempotency-Key ends with exactly one task", async () => {
    const token = await tokenFor(newUser());
    const key = crypto.randomUUID();
    const lost = await exchange(post(token, '{"title":"exactly once"}', key) + health);
    expect(lost.text.startsWith("HTTP/1.1 201")).toBe(false); // the answer is lost, as above
    // The connection is closed before the handler is done; wait until its write has committed.
    for (let i = 0; i < 100 && (await tasksOf(token)).length === 0; i++) await Bun.sleep(20);
    // The client cannot know whether the write happened, so it retries, on a new connection, unchanged.
    const retry = await fetch(`${server.url}/api/tasks`, {
      method: "POST",
      body: '{"title":"exactly once"}',
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": key },
    });
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    const created = (await retry.json()) as { id: number };
    expect((await tasksOf(token)).map((t) => [t.id, t.title])).toEqual([[created.id, "exactly once"]]);
  });
});
