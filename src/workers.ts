// WORKERS > 1: the primary process, having run the migrations, starts WORKERS - 1 copies of this same
// program as `worker`s listening on the same port with SO_REUSEPORT (the kernel spreads connections),
// and serves as well. Each process has its own database pool.
import type { Subprocess } from "bun";
import type { Logger } from "./logger";

/** This same program: the compiled binary alone, or bun with the entry script. */
function selfCommand(): string[] {
  const script = process.argv[1];
  return script && !script.startsWith("/$bunfs/") ? [process.execPath, script] : [process.execPath];
}

export interface Workers {
  /** SIGTERM to every worker (each finishes its in-flight requests); true when all exited 0. */
  stop(): Promise<boolean>;
}

/** `onLost`: a worker exited while nobody asked it to; the caller decides what the service does. */
export function startWorkers(count: number, env: Record<string, string | undefined>, logger: Logger, onLost: () => void): Workers {
  let stopping = false;
  const children: Subprocess[] = Array.from({ length: count }, () =>
    Bun.spawn([...selfCommand(), "worker"], { env, stdin: "ignore", stdout: "inherit", stderr: "inherit" }));
  for (const child of children) {
    void child.exited.then((code) => {
      if (stopping) return;
      logger.error("worker exited unexpectedly", { pid: child.pid, code });
      onLost();
    });
  }
  return {
    async stop() {
      stopping = true;
      for (const child of children) child.kill("SIGTERM");
      const codes = await Promise.all(children.map((child) => child.exited));
      return codes.every((code) => code === 0);
    },
  };
}
