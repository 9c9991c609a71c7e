// A real PgBouncer (1.21+) in transaction mode with protocol-level prepared statements, in a temporary
// folder, in front of a temp cluster; a test may freeze it (SIGSTOP), thaw it and kill it.
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { freePort, type TempCluster } from "./cluster";

// CI builds it with .ci/pgbouncer.sh and sets PGBOUNCER_BIN; a developer who ran that script once has it
// in the cache. Without either, the pooler suites are skipped locally; with PGBOUNCER_BIN set (or CI=1)
// a missing binary fails them instead, so CI cannot go green by skipping.
const BIN =
  process.env.PGBOUNCER_BIN ||
  (() => {
    const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "tasks-api");
    if (!existsSync(cache)) return undefined;
    const builds = readdirSync(cache).filter(
      (d) => d.startsWith("pgbouncer-") && existsSync(join(cache, d, "pgbouncer")),
    );
    const newest = builds.sort((a, b) => Bun.semver.order(a.slice(10), b.slice(10))).at(-1);
    return newest ? join(cache, newest, "pgbouncer") : undefined;
  })();
const required = Boolean(process.env.PGBOUNCER_BIN || process.env.CI);
export const pgbouncerBinary = BIN;
export const pgbouncerAvailable = required || (BIN !== undefined && existsSync(BIN));

/** PgBouncer refuses to run as root: as root (CI), run it as the postgres user (setpriv execs, so the pid is PgBouncer's). */
const asRoot = process.getuid?.() === 0;

export interface TempPgBouncer {
  /** The cluster's database through the pooler, same user and password. */
  url: string;
  port: number;
  pid: number;
  /** SIGSTOP: connections are accepted by the kernel and then nothing answers. */
  freeze(): void;
  thaw(): void;
  /** SIGKILL; safe to call twice. */
  kill(): void;
  /** One admin console command (SHOW STATS, PAUSE, ...), as rows. */
  admin(command: string): Promise<Record<string, unknown>[]>;
  destroy(): void;
}

const live = new Set<() => void>();
process.once("exit", () => {
  for (const destroy of live) destroy();
});

/**
 * Starts PgBouncer in front of `cluster` and waits until it listens. With a password: auth_file with the
 * role's own SCRAM secret; without (a trust-authenticated server, as the benchmark's): trust.
 */
export async function startPgBouncer(
  cluster: Pick<TempCluster, "url"> & { password?: string },
  settings: Record<string, string | number> = {},
): Promise<TempPgBouncer> {
  if (!BIN || !existsSync(BIN))
    throw new Error(
      `no PgBouncer binary (PGBOUNCER_BIN=${process.env.PGBOUNCER_BIN ?? ""}); build one with .ci/pgbouncer.sh`,
    );
  const server = new URL(cluster.url);
  const dir = mkdtempSync(join(tmpdir(), "tasks-pgbouncer-"));
  const port = freePort();
  // The SCRAM secret, not the password: PgBouncer then authenticates the client with SCRAM and reuses the
  // client's proof to log in to PostgreSQL, as a managed pooler does.
  let secret = "";
  if (cluster.password !== undefined) {
    const admin = postgres(cluster.url, { max: 1, onnotice: () => {} });
    [{ secret }] =
      (await admin`select rolpassword as secret from pg_authid where rolname = ${server.username}`) as unknown as [
        { secret: string },
      ];
    await admin.end();
  }
  writeFileSync(join(dir, "userlist.txt"), `"${server.username}" "${secret}"\n`);
  const ini: Record<string, string | number> = {
    listen_addr: "127.0.0.1",
    listen_port: port,
    unix_socket_dir: "",
    auth_type: cluster.password === undefined ? "trust" : "scram-sha-256",
    auth_file: join(dir, "userlist.txt"),
    admin_users: server.username,
    pool_mode: "transaction",
    max_prepared_statements: 200,
    default_pool_size: 20,
    max_client_conn: 500,
    server_login_retry: 1,
    ...settings,
  };
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `* = host=${server.hostname} port=${server.port}`,
      "[pgbouncer]",
      ...Object.entries(ini).map(([key, value]) => `${key} = ${value}`),
    ].join("\n") + "\n",
  );
  const bin = join(dir, "pgbouncer");
  copyFileSync(BIN, bin);
  if (asRoot) Bun.spawnSync(["chown", "-R", "postgres", dir]);
  const proc = Bun.spawn(
    [
      ...(asRoot ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups"] : []),
      bin,
      join(dir, "pgbouncer.ini"),
    ],
    { stdout: "ignore", stderr: "pipe" },
  );

  let log = "";
  let alive = true;
  const destroy = () => {
    if (alive) {
      try {
        process.kill(proc.pid, "SIGCONT");
        proc.kill("SIGKILL");
      } catch {}
      alive = false;
    }
    rmSync(dir, { recursive: true, force: true });
    live.delete(destroy);
  };
  live.add(destroy);
  // It logs "process up" once it listens; an error before that ends the process.
  const reader = proc.stderr.getReader();
  const decoder = new TextDecoder();
  while (!log.includes("process up")) {
    const { done, value } = await reader.read();
    if (done) {
      destroy();
      throw new Error(`pgbouncer did not start: ${log}`);
    }
    log += decoder.decode(value);
  }
  // Keep draining its log, so a full pipe never blocks it.
  void (async () => {
    while (!(await reader.read().catch(() => ({ done: true }))).done);
  })();

  const url = new URL(cluster.url);
  url.port = String(port);
  return {
    url: url.toString(),
    port,
    pid: proc.pid,
    freeze: () => process.kill(proc.pid, "SIGSTOP"),
    thaw: () => process.kill(proc.pid, "SIGCONT"),
    kill: () => {
      if (alive) proc.kill("SIGKILL");
      alive = false;
    },
    async admin(command) {
      // The admin console speaks only the simple query protocol.
      const ssl =
        ini.client_tls_sslmode !== undefined && ini.client_tls_sslmode !== "disable" ? ("require" as const) : false;
      const console_ = postgres({
        host: "127.0.0.1",
        port,
        user: server.username,
        password: cluster.password,
        database: "pgbouncer",
        ssl,
        max: 1,
        fetch_types: false,
        onnotice: () => {},
      });
      try {
        return [...(await console_.unsafe(command).simple())];
      } finally {
        await console_.end({ timeout: 1 });
      }
    },
    destroy,
  };
}
