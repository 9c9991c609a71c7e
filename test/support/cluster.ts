// A PostgreSQL of the test's own, in a temporary folder on a spare port, that a test may stop and start.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = (() => {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a))[0];
  return version ? join(root, version, "bin") : undefined;
})();

/** initdb and postgres refuse to run as root: as root (CI), run them as the postgres user. */
const asRoot = process.getuid?.() === 0;
export const clusterAvailable =
  BIN !== undefined && (!asRoot || Bun.spawnSync(["id", "-u", "postgres"]).exitCode === 0);

export interface TempCluster {
  url: string;
  port: number;
  /** its folder: the Unix socket is there */
  dir: string;
  password: string;
  /** Runs SQL as postgres over the Unix socket (psql), returns its output. */
  psql(sql: string): string;
  /** Starts the server and returns once it accepts connections. */
  start(): void;
  /** `immediate` is a crash-like stop: every backend is killed without a checkpoint. */
  stop(mode?: "fast" | "immediate"): void;
  /** Stops it if running and removes its folder; safe to call twice. */
  destroy(): void;
}

function run(args: string[], what: string, env?: Record<string, string>) {
  const result = Bun.spawnSync([...(asRoot ? ["runuser", "-u", "postgres", "--"] : []), ...args], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  if (result.exitCode !== 0) throw new Error(`${what} failed: ${result.stderr.toString()}${result.stdout.toString()}`);
  return result.stdout.toString();
}

// Backstop: a test run that ends halfway (an exception, Ctrl-C, a CI timeout) must not leave servers behind.
const live = new Set<() => void>();
const destroyAll = () => {
  for (const destroy of live) destroy();
};
process.once("exit", destroyAll);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    destroyAll();
    process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
  });
}

export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/**
 * initdb (password authentication, so tests can check the password never leaks) and start it.
 * `configure` may change the data folder (postgresql.conf, pg_hba.conf, certificates) before the first start.
 */
export function startTempCluster({ configure }: { configure?: (data: string) => void } = {}): TempCluster {
  if (!BIN) throw new Error("no PostgreSQL binaries under /usr/lib/postgresql");
  const dir = mkdtempSync(join(tmpdir(), "tasks-pg-"));
  const data = join(dir, "data");
  const password = `pw-${crypto.randomUUID()}`;
  const port = freePort();
  let running = false;
  const destroy = () => {
    if (running) {
      try {
        run([join(BIN, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], "pg_ctl stop");
      } catch {}
      running = false;
    }
    rmSync(dir, { recursive: true, force: true });
    live.delete(destroy);
  };
  live.add(destroy);
  try {
    writeFileSync(join(dir, "pwfile"), password + "\n");
    if (asRoot) Bun.spawnSync(["chown", "-R", "postgres", dir]);
    run(
      [
        join(BIN, "initdb"),
        "-D",
        data,
        "-U",
        "postgres",
        "-A",
        "scram-sha-256",
        `--pwfile=${join(dir, "pwfile")}`,
        "--no-sync",
        "--no-instructions",
      ],
      "initdb",
    );
    if (configure) {
      configure(data);
      if (asRoot) Bun.spawnSync(["chown", "-R", "postgres", dir]);
    }
    const cluster: TempCluster = {
      url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
      port,
      dir,
      password,
      start() {
        run(
          [
            join(BIN, "pg_ctl"),
            "-D",
            data,
            "-l",
            join(dir, "log"),
            "-w",
            "-t",
            "60",
            "-o",
            `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
            "start",
          ],
          "pg_ctl start",
        );
        running = true;
      },
      stop(mode = "fast") {
        run([join(BIN, "pg_ctl"), "-D", data, "-m", mode, "-w", "-t", "60", "stop"], "pg_ctl stop");
        running = false;
      },
      destroy,
      psql: (sql) =>
        run(
          [
            join(BIN, "psql"),
            "-h",
            dir,
            "-p",
            String(port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            sql,
          ],
          "psql",
          { PGPASSWORD: password },
        ),
    };
    cluster.start();
    return cluster;
  } catch (error) {
    destroy();
    throw error;
  }
}
