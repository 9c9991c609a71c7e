// The README and docs/ are what a newcomer reads first: every link in them must lead somewhere real.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";

const root = join(import.meta.dir, "..");
const markdown = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
const LINK = /\[[^\]]*\]\(([^)\s]+)\)/g;

// GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
const anchorsOf = (text: string) =>
  new Set(
    [...text.matchAll(/^#{1,6} (.+)$/gm)].map(([, heading]) =>
      heading!
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, "")
        .replace(/ /g, "-"),
    ),
  );

const linksOf = (file: string) =>
  [...readFileSync(join(root, file), "utf8").matchAll(LINK)].map(([, target]) => target!);

describe("documentation links", () => {
  test("the README links only to files inside the repository", () => {
    const outside = linksOf("README.md").filter((target) => /^[a-z]+:/i.test(target));
    expect(outside).toEqual([]);
  });

  for (const file of markdown) {
    test(`every relative link in ${file} resolves to a file (and heading) of the repository`, () => {
      const broken: string[] = [];
      for (const target of linksOf(file)) {
        if (/^[a-z]+:/i.test(target)) continue;
        const [path = "", anchor] = target.split("#");
        const resolved = path === "" ? join(root, file) : join(root, dirname(file), path);
        if (relative(root, resolved).startsWith("..") || !existsSync(resolved)) {
          broken.push(target);
          continue;
        }
        if (
          anchor &&
          statSync(resolved).isFile() &&
          resolved.endsWith(".md") &&
          !anchorsOf(readFileSync(resolved, "utf8")).has(anchor)
        ) {
          broken.push(target);
        }
      }
      expect(broken).toEqual([]);
    });
  }

  test("the README stays short", () => {
    expect(readFileSync(join(root, "README.md"), "utf8").split("\n").length).toBeLessThanOrEqual(150);
  });
});
