// Runs wrk (see README "Benchmark" for why wrk) and the database ceiling; both report the same fields.
import { cpuSeconds } from "./server";

export interface Result {
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
  requests: number;
  cpuUsPerRequest?: number;
  sidecarUsPerRequest?: number;
}

export function ensureWrk() {
  if (Bun.which("wrk")) return;
  const root = process.getuid?.() === 0;
  if (root && Bun.which("apt-get")) {
    console.log("wrk is missing: apt-get install -y wrk");
    Bun.spawnSync(["apt-get", "install", "-y", "wrk"], { stdout: "ignore", stderr: "inherit" });
    if (Bun.which("wrk")) return;
  }
  throw new Error(
    "wrk is not installed: `apt-get install wrk` (Debian/Ubuntu), `brew install wrk` (macOS), or build it from https://github.com/wg/wrk",
  );
}

const THREADS = 2;

/** One scenario of bench/tasks.lua ("hello" for the bare Bun.serve ceiling). */
export async function wrk(
  url: string,
  {
    seconds,
    connections,
    scenario,
    dataFile = "",
    raw,
    serverPid,
    timeoutSeconds = 5,
  }: {
    seconds: number;
    connections: number;
    scenario: string;
    dataFile?: string;
    raw: string;
    serverPid?: number;
    /** wrk's own timeout per request: a request that takes longer counts as an error. */
    timeoutSeconds?: number;
  },
): Promise<Result> {
  const cpuBefore = serverPid ? cpuSeconds(serverPid) : 0;
  const args = [
    "wrk",
    `-t${THREADS}`,
    `-c${connections}`,
    `-d${seconds}s`,
    "--timeout",
    `${timeoutSeconds}s`,
    "-s",
    `${import.meta.dir}/tasks.lua`,
  ];
  const proc = Bun.spawn([...args, url], {
    env: {
      ...process.env,
      SCENARIO: scenario,
      BENCH_DATA: dataFile,
      WRK_THREADS: String(THREADS),
      BENCH_RUN: crypto.randomUUID(),
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  await Bun.write(raw, `$ ${args.join(" ")} ${url}\n${out}${err}`);
  if (proc.exitCode !== 0) throw new Error(`wrk failed (${proc.exitCode}): ${err || out}`);
  const result = parse(out);
  if (serverPid) result.cpuUsPerRequest = ((cpuSeconds(serverPid) - cpuBefore) * 1e6) / result.requests;
  return result;
}

function parse(out: string): Result {
  const line = out.split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if (!line) throw new Error(`wrk printed no result:\n${out}`);
  const r = JSON.parse(line.slice("BENCH_JSON ".length));
  return {
    rps: r.requests / (r.duration_us / 1e6),
    requests: r.requests,
    p50: r.p50_us / 1000,
    p95: r.p95_us / 1000,
    p99: r.p99_us / 1000,
    errors: r.non2xx + r.socket_errors + r.timeouts,
  };
}

export async function dbCeiling(options: {
  url: string;
  scenario: string;
  seconds: number;
  concurrency: number;
  poolMax: number;
  data: string;
  raw: string;
  driver?: "postgres" | "bun";
}): Promise<Result> {
  const { raw, ...rest } = options;
  const proc = Bun.spawn(["bun", `${import.meta.dir}/db-ceiling.ts`, JSON.stringify(rest)], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  await Bun.write(raw, out + err);
  if (proc.exitCode !== 0) throw new Error(`db ceiling failed: ${err}`);
  const r = JSON.parse(out.trim().split("\n").pop()!);
  return {
    rps: r.rps,
    p50: r.p50,
    p95: r.p95,
    p99: r.p99,
    errors: r.errors,
    requests: r.requests,
    cpuUsPerRequest: r.cpuUsPerRequest,
  };
}
