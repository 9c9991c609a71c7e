// The real entry point in a child process, its output captured line by line.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { createFreshDatabase } from "../setup";

export interface ServerProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Every line the process wrote, stdout and stderr, as it arrives. */
  lines: string[];
  url: string;
  /** From spawn to the awaited log line ("ready" unless told otherwise). */
  readyMs: number;
  /** The JSON log lines so far, parsed. */
  logs(): Record<string, any>[];
}

export const parseLogs = (lines: string[]) =>
  lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, any>);

function collect(stream: ReadableStream<Uint8Array>, lines: string[], onLine: () => void) {
  return (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of stream) {
      buffer += decoder.decode(chunk, { stream: true });
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      lines.push(...parts);
      if (parts.length) onLine();
    }
    if (buffer) lines.push(buffer);
    onLine();
  })();
}

/**
 * Spawns `bun src/index.ts` and resolves once it logs `until`: "ready" (database reachable, migrations
 * applied) by default, or "listening" (the port is open, the database maybe not yet); rejects if it
 * exits first.
 */
export async function startServer(
  env: Record<string, string>,
  { timeoutMs = 30_000, until = "ready" as "ready" | "listening" } = {},
): Promise<ServerProcess> {
  const started = performance.now();
  const proc = Bun.spawn(["bun", "src/index.ts"], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const lines: string[] = [];
  const logs = () => parseLogs(lines);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`server not ${until} after ${timeoutMs} ms:\n${lines.join("\n")}`));
    }, timeoutMs);
    let done = false;
    const check = () => {
      if (done) return;
      const all = logs();
      const listening = all.find((l) => l.msg === "listening");
      if (listening && (until === "listening" || all.some((l) => l.msg === "ready"))) {
        done = true;
        clearTimeout(timer);
        resolve({ proc, lines, url: listening.url, readyMs: performance.now() - started, logs });
      }
    };
    void collect(proc.stdout, lines, check);
    void collect(proc.stderr, lines, check);
    void proc.exited.then((code) => {
      setTimeout(() => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(new Error(`server exited (${code}) before ${until}:\n${lines.join("\n")}`));
      }, 50);
    });
  });
}

/** Resolves once the server has logged a line that `matches`. */
export async function waitForLog(
  server: ServerProcess,
  matches: (line: Record<string, any>) => boolean,
  timeoutMs = 10_000,
) {
  const deadline = performance.now() + timeoutMs;
  while (!server.logs().some(matches)) {
    if (performance.now() > deadline)
      throw new Error(`no such log line after ${timeoutMs} ms:\n${server.lines.join("\n")}`);
    await Bun.sleep(10);
  }
}

/** Runs the entry point to completion (for startup failures), with its output and duration. */
export async function runToExit(env: Record<string, string>, { timeoutMs = 60_000 } = {}) {
  const started = performance.now();
  const proc = Bun.spawn(["bun", "src/index.ts"], {
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: timeoutMs,
    killSignal: "SIGKILL",
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { exitCode, stdout, stderr, ms: performance.now() - started };
}

export const baseEnv = () => ({
  PATH: process.env.PATH!,
  HOME: process.env.HOME ?? "/tmp",
  HOST: "127.0.0.1",
  PORT: "0",
});

/**
 * Where a server process of a test keeps its data: a fresh database on TEST_DATABASE_URL's server, or
 * a PGlite folder of its own. `cleanup` drops it.
 */
export async function serverDatabase(
  name: string,
): Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }> {
  if (process.env.TEST_DATABASE_URL) {
    const fresh = await createFreshDatabase(name);
    return { env: { DATABASE_URL: fresh.url }, cleanup: fresh.drop };
  }
  const dir = mkdtempSync(join(tmpdir(), "tasks-pglite-"));
  return { env: { PGLITE_DIR: dir }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}
