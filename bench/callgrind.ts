// What bench:framework --instructions and bench:instructions share: a program under valgrind's
// callgrind with its counter off until told, switched per window by callgrind_control, and the
// instructions of each window read back from its dumps.
import { readdirSync, readFileSync } from "node:fs";

/** Throws, naming `what`, when valgrind is not installed. */
export function requireValgrind(what: string) {
  if (Bun.spawnSync(["valgrind", "--version"], { stdout: "ignore", stderr: "ignore" }).exitCode !== 0)
    throw new Error(`${what} needs valgrind (Debian: apt-get install valgrind)`);
}

/** `command` under callgrind, counting nothing until switched on; its dumps go to `dir`/out.N. */
export const underCallgrind = (dir: string, command: string[]) => [
  "valgrind",
  "--tool=callgrind",
  "--instr-atstart=no",
  `--callgrind-out-file=${dir}/out`,
  ...command,
];

/** The JIT and the collector on the main thread, so each is counted in the window where it runs. */
export const CALLGRIND_ENV = { BUN_JSC_useConcurrentJIT: "false", BUN_JSC_useConcurrentGC: "false" };

/**
 * Tells the process `pid` under callgrind to switch its counter on (`-i=on`), off (`-i=off`) or dump
 * (`-d`). valgrind names the pipe this goes through after USER and HOST: `env` must have the values the
 * process itself has.
 */
export function callgrindControl(flag: string, pid: number, env: Record<string, string | undefined> = process.env) {
  Bun.spawnSync(["callgrind_control", flag, String(pid)], { env, stdout: "ignore" });
}

/** Instructions of each window dumped to `dir`, in the order they were dumped; throws if none were. */
export function windowTotals(dir: string, what: string): number[] {
  const totals = readdirSync(dir)
    .filter((f) => /^out\.\d+$/.test(f))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
    .map((f) => Number(/^totals: (\d+)$/m.exec(readFileSync(`${dir}/${f}`, "utf8"))?.[1] ?? Number.NaN));
  if (totals.length === 0 || totals.some(Number.isNaN))
    throw new Error(`${what}: callgrind wrote no counts (is callgrind_control on PATH?)`);
  return totals;
}
