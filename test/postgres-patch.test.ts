// The workarounds in patches/postgres@3.4.9.patch (docs/development.md) are only in effect if
// `bun install` applied the patch; the behaviour they fix is tested through the service elsewhere.
import { expect, test } from "bun:test";

const root = new URL("..", import.meta.url).pathname;

test("the installed postgres.js carries every hunk of patches/postgres@3.4.9.patch", () => {
  // Reversing the patch applies cleanly only where all of it is in place.
  const reverse = Bun.spawnSync(
    ["git", "apply", "--reverse", "--check", "--directory=node_modules/postgres", "patches/postgres@3.4.9.patch"],
    { cwd: root, stderr: "pipe" },
  );
  expect(reverse.stderr.toString()).toBe("");
  expect(reverse.exitCode).toBe(0);
});
