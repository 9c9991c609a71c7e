// What must never leave the service: secrets in logs or answers, stack traces in answers.
import { expect } from "bun:test";

const STACK = /\n\s+at \S|\bat .*\.(ts|js|mjs):\d+/;

/** Fails listing every offending line. `secrets`: tokens and passwords the test used. */
export function expectNoLeaks({
  answers = [],
  logs = [],
  secrets,
}: {
  answers?: string[];
  logs?: string[];
  secrets: string[];
}) {
  const found: string[] = [];
  for (const secret of secrets.filter(Boolean)) {
    for (const text of answers) if (text.includes(secret)) found.push(`answer carries a secret: ${text.slice(0, 200)}`);
    for (const line of logs) if (line.includes(secret)) found.push(`log line carries a secret: ${line.slice(0, 200)}`);
  }
  for (const text of answers)
    if (STACK.test(text) || /"stack"/.test(text)) found.push(`answer carries a stack trace: ${text.slice(0, 200)}`);
  expect(found).toEqual([]);
}
