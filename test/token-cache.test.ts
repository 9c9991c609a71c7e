import { describe, expect, test } from "bun:test";
import { cachedVerifier } from "../src/auth/cache";
import type { TokenVerifier } from "../src/auth/verifier";
import { AuthError } from "../src/errors";

/** An inner verifier that counts its calls; a token "<user>:<exp>" verifies, "bad" fails. */
function counting() {
  let calls = 0;
  const verifier: TokenVerifier = {
    async verify(token) {
      calls++;
      if (token === "bad") throw new AuthError("Invalid token", "test");
      const [userId, exp] = token.split(":");
      return { userId: userId!, exp: Number(exp) };
    },
  };
  return { verifier, calls: () => calls };
}

describe("the verified-token cache", () => {
  test("a token seen before is answered without verifying it again", async () => {
    const inner = counting();
    const cached = cachedVerifier(inner.verifier, { now: () => 1_000_000 });
    expect(await cached.verify("alice:2000")).toEqual({ userId: "alice", exp: 2000 });
    expect(await cached.verify("alice:2000")).toEqual({ userId: "alice", exp: 2000 });
    expect(inner.calls()).toBe(1);
  });

  test("a cached token past its exp goes back to the verifier, which decides", async () => {
    const inner = counting();
    let clock = 1_000_000;
    const cached = cachedVerifier(inner.verifier, { now: () => clock });
    await cached.verify("alice:2000");
    clock = 2_000_000; // exactly exp: no longer served from the cache
    await cached.verify("alice:2000");
    expect(inner.calls()).toBe(2);
  });

  test("failures are never cached", async () => {
    const inner = counting();
    const cached = cachedVerifier(inner.verifier, { now: () => 0 });
    await expect(cached.verify("bad")).rejects.toBeInstanceOf(AuthError);
    await expect(cached.verify("bad")).rejects.toBeInstanceOf(AuthError);
    expect(inner.calls()).toBe(2);
  });

  test("the cache holds at most max tokens and evicts the least recently used", async () => {
    const inner = counting();
    const cached = cachedVerifier(inner.verifier, { max: 2, now: () => 0 });
    await cached.verify("a:10");
    await cached.verify("b:10");
    await cached.verify("a:10"); // a is now the most recently used
    await cached.verify("c:10"); // evicts b
    expect(inner.calls()).toBe(3);
    await cached.verify("a:10");
    expect(inner.calls()).toBe(3);
    await cached.verify("b:10");
    expect(inner.calls()).toBe(4);
  });

  test("known() answers a token verified before without a promise, only until its exp", async () => {
    const inner = counting();
    let clock = 1_000_000;
    const cached = cachedVerifier(inner.verifier, { now: () => clock });
    expect(cached.known!("alice:2000")).toBeUndefined(); // never verified
    await cached.verify("alice:2000");
    expect(cached.known!("alice:2000")).toBe("alice");
    clock = 2_000_000;
    expect(cached.known!("alice:2000")).toBeUndefined();
    expect(inner.calls()).toBe(1);
  });

  test("known() leaves a token signed by a key of a key set to verify(), which asks whether the key is still trusted", async () => {
    let trusted = true;
    const inner: TokenVerifier = {
      verify: async (token) => ({ userId: token, exp: 2000, kid: "k1" }),
      trusts: async () => trusted,
    };
    const cached = cachedVerifier(inner, { now: () => 0 });
    await cached.verify("alice");
    expect(cached.known!("alice")).toBeUndefined();
    trusted = false;
    await cached.verify("alice"); // verified again, by the inner verifier
    expect(cached.known!("alice")).toBeUndefined();
  });

  test("known() counts as a use for the least-recently-used order", async () => {
    const inner = counting();
    const cached = cachedVerifier(inner.verifier, { max: 2, now: () => 0 });
    await cached.verify("a:10");
    await cached.verify("b:10");
    expect(cached.known!("a:10")).toBe("a"); // a is now the most recently used
    await cached.verify("c:10"); // evicts b
    expect(cached.known!("a:10")).toBe("a");
    expect(cached.known!("b:10")).toBeUndefined();
  });
});
