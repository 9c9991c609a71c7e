import { t } from "elysia";

// Visible ASCII (0x21-0x7E), as the IETF draft's examples and every client library produce; anything
// else (white space, control or non-ASCII characters, an empty value) is a 422 from the schema.
export const IDEMPOTENCY_KEY_PATTERN = "^[\\x21-\\x7E]{1,255}$";

export const IdempotencyKeyHeader = t.Optional(
  t.String({
    pattern: IDEMPOTENCY_KEY_PATTERN,
    error: "Idempotency-Key must be 1 to 255 visible ASCII characters",
    description:
      "A fresh random value (e.g. a UUID) per user action, sent again unchanged on every retry of it: the write happens at most once and a retry gets the first answer (with Idempotent-Replayed: true)",
    examples: ["8e03978e-40d5-43e8-bc93-6894a57f9324"],
  }),
);

/** What a repeat must match: method, path and body (as parsed: white space aside, the same JSON). */
export function fingerprint(method: string, path: string, body: unknown): string {
  return new Bun.CryptoHasher("sha256")
    .update(`${method} ${path}\n${body === undefined ? "" : JSON.stringify(body)}`)
    .digest("hex");
}
