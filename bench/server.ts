// Builds and runs what the image ships (the compiled binary), and the bare Bun.serve ceiling.

import { readFileSync } from "node:fs";
import type { Subprocess } from "bun";

const ROOT = `${import.meta.dir}/..`;

/** Commit `ref`'s tree in `dir`, with its own install: its lockfile and dependency patches, not the working tree's. */
export async function checkout(ref: string, dir: string) {
  await Bun.$`mkdir -p ${dir} && git -C ${ROOT} archive ${ref} | tar -x -C ${dir} && cd ${dir} && bun install --frozen-lockfile`.quiet();
}

/** The image's build of the working tree, or of git `ref` (for --baseline comparisons); `entry` another program built alike. */
export async function buildBinary(outfile: string, ref?: string, entry = "./src/index.ts") {
  let cwd = ROOT;
  if (ref) {
    cwd = `${outfile}-src`;
    await checkout(ref, cwd);
  }
  const build = Bun.spawnSync(["bun", "build", "--compile", "--minify", "--sourcemap", entry, "--outfile", outfile], {
    cwd,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (build.exitCode !== 0) throw new Error(`bun build failed:\n${build.stderr.toString()}`);
}

export interface Running {
  proc: Subprocess;
  url: string;
  stop(): Promise<void>;
}

/** Until `url` answers 2xx; throws if `proc` exits first or after `seconds`. */
export async function waitFor(url: string, proc: Subprocess, what: string, seconds = 20) {
  for (let i = 0; i < seconds * 10; i++) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode} before answering ${url}`);
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await Bun.sleep(100);
  }
  throw new Error(`${what} did not answer ${url} within ${seconds} s`);
}

async function stop(proc: Subprocess) {
  if (proc.exitCode !== null) return;
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
  await proc.exited;
  clearTimeout(timer);
}

/** The service on `port`; its stdout (one JSON line per request) goes to `logFile`, e.g. /dev/null. */
export async function startService(
  binary: string,
  env: Record<string, string>,
  port: number,
  logFile: string,
): Promise<Running> {
  const proc = Bun.spawn([binary], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOST: "127.0.0.1",
      PORT: String(port),
      NODE_ENV: "production",
      ...env,
    },
    stdout: Bun.file(logFile),
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/health/ready`, proc, "the service");
  return { proc, url, stop: () => stop(proc) };
}

/** The bare-server ceiling (bench/bare.ts, compiled like the service) on `port`, its log lines to `logFile`. */
export async function startBare(
  binary: string,
  env: Record<string, string>,
  port: number,
  logFile: string,
): Promise<Running> {
  const proc = Bun.spawn([binary], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PORT: String(port), ...env },
    stdout: Bun.file(logFile),
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/health/ready`, proc, "the bare server");
  return { proc, url, stop: () => stop(proc) };
}

export async function startHello(port: number): Promise<Running> {
  const proc = Bun.spawn(["bun", `${import.meta.dir}/hello.ts`, String(port)], { stdout: "ignore", stderr: "inherit" });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(url, proc, "the hello server");
  return { proc, url, stop: () => stop(proc) };
}

const childrenOf = (pid: number) =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);

/**
 * CPU seconds (user + system) used so far by a process and its live descendants. Per request, this is
 * the figure that stays meaningful when other work shares the machine and throughput wobbles.
 */
export function cpuSeconds(pid: number): number {
  try {
    // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    const own = (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
    return own + childrenOf(pid).reduce((sum, c) => sum + cpuSeconds(c), 0);
  } catch {
    return 0;
  }
}

/** Resident memory of a process and all its descendants, in MiB. */
export function rssMiB(pid: number): number {
  const kib = (p: number): number => {
    try {
      const status = readFileSync(`/proc/${p}/status`, "utf8");
      const own = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return own + childrenOf(p).reduce((sum, c) => sum + kib(c), 0);
    } catch {
      return 0;
    }
  };
  return Math.round(kib(pid) / 1024);
}

export const freePort = () => {
  const server = Bun.serve({ port: 0, fetch: () => new Response() });
  const port = server.port!;
  server.stop(true);
  return port;
};
