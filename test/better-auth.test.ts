// Tokens minted by a real, unmodified Better Auth server, verified through its JWKS.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from "jose";
import { verifierFromConfig } from "../src/auth/from-config";
import { jwksVerifier } from "../src/auth/jwks";
import type { AuthConfig } from "../src/config";
import type { Logger } from "../src/logger";
import { buildApp, SECRET, type TestApp, tokenFor } from "./support/app";
import { type BetterAuthServer, startBetterAuth } from "./support/better-auth";

const authConfig = (over: Partial<AuthConfig>): AuthConfig => ({
  secret: undefined,
  secretGenerated: false,
  betterAuthUrl: undefined,
  jwksUrl: undefined,
  issuer: undefined,
  audience: undefined,
  ...over,
});
const email = (name: string) => `${name}-${crypto.randomUUID().slice(0, 8)}@example.com`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe.each(["EdDSA", "RS256"] as const)("a live Better Auth server signing %s", (alg) => {
  let ba: BetterAuthServer;
  let api: TestApp;
  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };

  beforeAll(async () => {
    ba = await startBetterAuth({ alg });
    api = await buildApp({ verifier: (logger) => verifierFromConfig(authConfig({ betterAuthUrl: ba.url }), logger) });
    const a = await ba.signUp(email("alice"), "correct-horse-battery", "Alice");
    const b = await ba.signUp(email("bob"), "correct-horse-battery", "Bob");
    alice = { userId: a.userId, token: await ba.token(a.cookie) };
    bob = { userId: b.userId, token: await ba.tokenFromSession(b.cookie) };
  }, 30_000);
  afterAll(() => ba.close());

  test("its tokens carry what the contract says: alg, kid, sub = id, iss = aud = base URL, 15 minutes", () => {
    const header = decodeProtectedHeader(alice.token);
    expect(header.alg).toBe(alg);
    expect(typeof header.kid).toBe("string");
    const claims = decodeJwt(alice.token);
    expect(claims).toMatchObject({ sub: alice.userId, id: alice.userId, iss: ba.url, aud: ba.url });
    expect(claims.exp! - claims.iat!).toBe(900);
  });

  test("a token from GET /api/auth/token drives full CRUD, and its sub owns the tasks", async () => {
    const headers = bearer(alice.token);
    const created = await api.request("POST", "/api/tasks", { headers, body: { title: "from Better Auth" } });
    expect(created.status).toBe(201);
    const task: any = await created.json();
    expect(task.user_id).toBe(alice.userId);
    expect((await api.request("GET", `/api/tasks/${task.id}`, { headers })).status).toBe(200);
    expect((await api.request("PUT", `/api/tasks/${task.id}`, { headers, body: { status: "completed" } })).status).toBe(
      200,
    );
    const list: any = await (await api.request("GET", "/api/tasks", { headers })).json();
    expect(list.map((t: any) => t.id)).toContain(task.id);
    expect((await api.request("DELETE", `/api/tasks/${task.id}`, { headers })).status).toBe(204);
  });

  test("a token from get-session's set-auth-jwt header works too, and the two users are isolated", async () => {
    const created: any = await (
      await api.request("POST", "/api/tasks", { headers: bearer(alice.token), body: { title: "alice only" } })
    ).json();
    expect((await api.request("GET", `/api/tasks/${created.id}`, { headers: bearer(bob.token) })).status).toBe(404);
    expect((await api.request("DELETE", `/api/tasks/${created.id}`, { headers: bearer(bob.token) })).status).toBe(404);
    const bobs: any = await (await api.request("GET", "/api/tasks", { headers: bearer(bob.token) })).json();
    expect(bobs.some((t: any) => t.id === created.id)).toBe(false);
  });

  test("a tampered token (sub swapped to another user) is rejected", async () => {
    const [header, payload, signature] = alice.token.split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString());
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: bob.userId })).toString("base64url")}.${signature}`;
    const res = await api.request("GET", "/api/tasks", { headers: bearer(forged) });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ detail: "Invalid token" });
  });
});

describe("Better Auth tokens, when things change", () => {
  let ba: BetterAuthServer;
  beforeAll(async () => {
    ba = await startBetterAuth();
  }, 30_000);
  afterAll(() => ba.close());

  const user = async () => {
    const { cookie, userId } = await ba.signUp(email("u"), "correct-horse-battery", "U");
    return { cookie, userId, token: await ba.token(cookie) };
  };

  test("a token for another audience is rejected", async () => {
    const other = await startBetterAuth({ audience: "https://another-api.example.com" });
    try {
      const api = await buildApp({
        verifier: (logger) => verifierFromConfig(authConfig({ betterAuthUrl: other.url }), logger),
      });
      const { cookie } = await other.signUp(email("aud"), "correct-horse-battery", "Aud");
      const res = await api.request("GET", "/api/tasks", { headers: bearer(await other.token(cookie)) });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ detail: "Invalid token" });
    } finally {
      await other.close();
    }
  });

  test("an expired token answers 401 Token expired", async () => {
    const shortLived = await startBetterAuth({ expirationTime: "1s" });
    try {
      // The verifier's clock runs ahead instead of the test waiting: jose checks exp against it.
      let aheadMs = 0;
      const api = await buildApp({
        verifier: (logger) =>
          verifierFromConfig(authConfig({ betterAuthUrl: shortLived.url }), logger, () => Date.now() + aheadMs),
      });
      const { cookie } = await shortLived.signUp(email("exp"), "correct-horse-battery", "Exp");
      const token = await shortLived.token(cookie);
      expect((await api.request("GET", "/api/tasks", { headers: bearer(token) })).status).toBe(200);
      aheadMs = 2_000; // past exp, within the 5 s clock-skew allowance
      expect((await api.request("GET", "/api/tasks", { headers: bearer(token) })).status).toBe(200);
      aheadMs = 7_000; // 1 s of life plus the 5 s allowance, and a second to spare
      const res = await api.request("GET", "/api/tasks", { headers: bearer(token) });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ detail: "Token expired" });
    } finally {
      await shortLived.close();
    }
  }, 20_000);

  test("after key rotation, a token signed by the new key verifies after one refetch", async () => {
    // The verifier's clock moves past the cooldown instead of the test waiting it out.
    let aheadMs = 0;
    const api = await buildApp({
      verifier: (logger) =>
        jwksVerifier({
          url: `${ba.url}/api/auth/jwks`,
          issuer: ba.url,
          audience: ba.url,
          logger,
          cooldownMs: 100,
          now: () => Date.now() + aheadMs,
        }),
    });
    const u = await user();
    expect((await api.request("GET", "/api/tasks", { headers: bearer(u.token) })).status).toBe(200);
    const before = ba.jwksFetches();
    await ba.rotateKeys();
    aheadMs = 150;
    const rotated = await ba.token(u.cookie);
    expect(decodeProtectedHeader(rotated).kid).not.toBe(decodeProtectedHeader(u.token).kid);
    expect((await api.request("GET", "/api/tasks", { headers: bearer(rotated) })).status).toBe(200);
    expect(ba.jwksFetches() - before).toBe(1);
    expect((await api.request("GET", "/api/tasks", { headers: bearer(u.token) })).status).toBe(200); // old key still published
  });

  test("a flood of tokens with unknown kids cannot hammer Better Auth: at most one refetch per cooldown", async () => {
    const api = await buildApp({
      verifier: (logger) => verifierFromConfig(authConfig({ betterAuthUrl: ba.url }), logger),
    });
    const u = await user();
    expect((await api.request("GET", "/api/tasks", { headers: bearer(u.token) })).status).toBe(200);
    const before = ba.jwksFetches();
    const { privateKey } = await generateKeyPair("EdDSA");
    const bogus = await Promise.all(
      Array.from({ length: 50 }, () =>
        new SignJWT({ sub: u.userId })
          .setProtectedHeader({ alg: "EdDSA", kid: crypto.randomUUID() })
          .setIssuer(ba.url)
          .setAudience(ba.url)
          .setExpirationTime("5m")
          .sign(privateKey),
      ),
    );
    const statuses = await Promise.all(
      bogus.map(async (t) => (await api.request("GET", "/api/tasks", { headers: bearer(t) })).status),
    );
    expect(statuses.every((s) => s === 401)).toBe(true);
    expect(ba.jwksFetches() - before).toBeLessThanOrEqual(1);
  });

  test("Better Auth going down does not affect tokens whose key is cached; with no key cached it is 503", async () => {
    // A short cooldown: with no key cached, the next fetch still waits it out.
    let aheadMs = 0;
    const verifier = (logger: Logger) =>
      jwksVerifier({
        url: `${ba.url}/api/auth/jwks`,
        issuer: ba.url,
        audience: ba.url,
        logger,
        cooldownMs: 200,
        now: () => Date.now() + aheadMs,
      });
    const warm = await buildApp({ verifier });
    const cold = await buildApp({ verifier });
    const u = await user();
    expect((await warm.request("GET", "/api/tasks", { headers: bearer(u.token) })).status).toBe(200);
    await ba.stop();
    try {
      expect((await warm.request("GET", "/api/tasks", { headers: bearer(u.token) })).status).toBe(200);
      const res = await cold.request("GET", "/api/tasks", { headers: bearer(u.token) });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ detail: "Authentication unavailable" });
      expect(cold.logs.some((l) => l.level === "error" && l.msg.includes("JWKS"))).toBe(true);
    } finally {
      ba.restart();
    }
    aheadMs = 250; // past the cooldown
    expect((await cold.request("GET", "/api/tasks", { headers: bearer(u.token) })).status).toBe(200);
  });

  test("with both a secret and a JWKS, HS256 uses the secret; an HS256 token keyed with the public key is rejected", async () => {
    const api = await buildApp({
      verifier: (logger) => verifierFromConfig(authConfig({ secret: SECRET, betterAuthUrl: ba.url }), logger),
    });
    const u = await user();
    expect((await api.request("GET", "/api/tasks", { headers: bearer(u.token) })).status).toBe(200);
    expect((await api.request("GET", "/api/tasks", { headers: bearer(await tokenFor("hs-user")) })).status).toBe(200);
    const jwks = (await (await fetch(`${ba.url}/api/auth/jwks`)).json()) as { keys: Record<string, string>[] };
    for (const secret of [JSON.stringify(jwks.keys[0]), jwks.keys[0]!.x!]) {
      const forged = await new SignJWT({ sub: u.userId })
        .setProtectedHeader({ alg: "HS256", kid: jwks.keys[0]!.kid })
        .setIssuer(ba.url)
        .setAudience(ba.url)
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode(secret));
      expect((await api.request("GET", "/api/tasks", { headers: bearer(forged) })).status).toBe(401);
    }
  });

  test("with only a JWKS configured, HS256 tokens are rejected whatever their key", async () => {
    const api = await buildApp({
      verifier: (logger) => verifierFromConfig(authConfig({ betterAuthUrl: ba.url }), logger),
    });
    expect((await api.request("GET", "/api/tasks", { headers: bearer(await tokenFor("hs-user")) })).status).toBe(401);
  });
});
