import { beforeAll, describe, expect, test } from "bun:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { hs256Verifier } from "../src/auth/verifier";
import { buildApp, newUser, SECRET, type TestApp, tokenFor } from "./support/app";

let api: TestApp;
// The first file to ask starts the run's database, which takes a few seconds on a cold PGlite.
beforeAll(async () => {
  api = await buildApp();
}, 30_000);

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

async function expect401(token: string | undefined, detail: string, init: { header?: string } = {}) {
  const headers: Record<string, string> = init.header !== undefined ? { authorization: init.header } : {};
  const res = await api.request("GET", "/api/tasks", { token, headers });
  expect(res.status).toBe(401);
  expect(await res.json()).toEqual({ detail });
  return res;
}

describe("authentication", () => {
  test("a valid HS256 token is accepted and its sub owns the tasks created with it", async () => {
    const user = newUser();
    const res = await api.request("POST", "/api/tasks", { token: await tokenFor(user), body: { title: "mine" } });
    expect(res.status).toBe(201);
    expect(((await res.json()) as any).user_id).toBe(user);
  });

  test("no token answers 401 Not authenticated with WWW-Authenticate: Bearer", async () => {
    const res = await expect401(undefined, "Not authenticated");
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
  });

  test("a non-Bearer Authorization header answers 401 Not authenticated", async () => {
    await expect401(undefined, "Not authenticated", { header: `Basic ${btoa("a:b")}` });
    await expect401(undefined, "Not authenticated", { header: "Bearer " });
  });

  test("an expired token answers 401 Token expired with an invalid_token challenge", async () => {
    const res = await expect401(await tokenFor(newUser(), { expiresIn: -120 }), "Token expired");
    expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token", error_description="Token expired"');
  });

  test("a token expired by less than the clock-skew allowance is still accepted", async () => {
    const res = await api.request("GET", "/api/tasks", { token: await tokenFor(newUser(), { expiresIn: -2 }) });
    expect(res.status).toBe(200);
  });

  test("a token without exp is rejected", async () => {
    await expect401(await tokenFor(newUser(), { expiresIn: null }), "Invalid token");
  });

  test("a token signed with another secret is rejected", async () => {
    await expect401(await tokenFor(newUser(), { secret: "another-secret-that-is-long-enough-0123" }), "Invalid token");
  });

  test("a tampered payload is rejected", async () => {
    const [header, , signature] = (await tokenFor("alice")).split(".");
    const forged = `${header}.${b64url({ sub: "mallory", exp: Math.floor(Date.now() / 1000) + 600 })}.${signature}`;
    const res = await expect401(forged, "Invalid token");
    expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token", error_description="Invalid token"');
  });

  test("alg none is rejected", async () => {
    const unsigned = `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ sub: "mallory", exp: Math.floor(Date.now() / 1000) + 600 })}.`;
    await expect401(unsigned, "Invalid token");
  });

  test("HS512 and HS384 tokens made with the right secret are still rejected (algorithm allow-list)", async () => {
    for (const alg of ["HS384", "HS512"]) {
      const token = await new SignJWT({ sub: "mallory" })
        .setProtectedHeader({ alg })
        .setExpirationTime("10m")
        .sign(new TextEncoder().encode(SECRET));
      await expect401(token, "Invalid token");
    }
  });

  test("an RS256 token is rejected when only a secret is configured", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const token = await new SignJWT({ sub: "mallory" })
      .setProtectedHeader({ alg: "RS256" })
      .setExpirationTime("10m")
      .sign(privateKey);
    await expect401(token, "Invalid token");
  });

  test("an HS256 token using a public key as its secret is rejected", async () => {
    const { publicKey } = await generateKeyPair("RS256", { extractable: true });
    const jwk = JSON.stringify(await exportJWK(publicKey));
    const token = await tokenFor("mallory", { secret: jwk });
    await expect401(token, "Invalid token");
  });

  test("garbage, a truncated token and an oversized token are rejected as Invalid token", async () => {
    await expect401("not-a-jwt", "Invalid token");
    await expect401((await tokenFor("alice")).slice(0, -10), "Invalid token");
    await expect401("a".repeat(9000), "Invalid token");
  });

  test("user_id is used when there is no sub", async () => {
    const user = newUser();
    const res = await api.request("POST", "/api/tasks", {
      token: await tokenFor(undefined, { claims: { user_id: user } }),
      body: { title: "x" },
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as any).user_id).toBe(user);
  });

  test("sub wins over user_id", async () => {
    const user = newUser();
    const res = await api.request("POST", "/api/tasks", {
      token: await tokenFor(user, { claims: { user_id: "someone-else" } }),
      body: { title: "x" },
    });
    expect(((await res.json()) as any).user_id).toBe(user);
  });

  test("a token without sub or user_id, or with an empty, non-string or over-long one, is rejected", async () => {
    await expect401(await tokenFor(undefined), "Invalid token");
    await expect401(await tokenFor(""), "Invalid token");
    await expect401(await tokenFor(undefined, { claims: { user_id: 42 } }), "Invalid token");
    await expect401(await tokenFor("u".repeat(256)), "Invalid token");
  });

  test("a token whose nbf is in the future, or iat far in the future, is rejected", async () => {
    const later = Math.floor(Date.now() / 1000) + 60;
    await expect401(await tokenFor(newUser(), { claims: { nbf: later } }), "Invalid token");
    await expect401(await tokenFor(newUser(), { claims: { iat: later } }), "Invalid token");
  });

  test("every /api route requires a token, including with a bad id or body", async () => {
    for (const [method, path] of [
      ["GET", "/api/tasks/1"],
      ["PUT", "/api/tasks/1"],
      ["PATCH", "/api/tasks/abc"],
      ["DELETE", "/api/tasks/1"],
      ["POST", "/api/tasks"],
    ] as const) {
      const res = await api.request(method, path, {
        body: method === "GET" || method === "DELETE" ? undefined : { bogus: true },
      });
      expect(res.status).toBe(401);
    }
  });

  test("each failure is logged at warn in the request's one line, with reason, method, path and request id, never the token", async () => {
    const token = await tokenFor(newUser(), { expiresIn: -120 });
    await api.request("GET", "/api/tasks?limit=5", { token, headers: { "x-request-id": "req-auth-log-1" } });
    await api.settled();
    // The request's one log line carries the failure; no second line per 401.
    const lines = api.logs.filter((l) => l.request_id === "req-auth-log-1");
    expect(lines.length).toBe(1);
    const line = lines[0];
    expect(line).toMatchObject({
      msg: "request",
      level: "warn",
      auth_failure: "token expired",
      method: "GET",
      path: "/api/tasks",
      status: 401,
    });
    expect("client" in line!).toBe(true);
    expect(JSON.stringify(api.logs)).not.toContain(token);
    expect(JSON.stringify(api.logs)).not.toContain(token.split(".")[2]);
  });
});

describe("issuer and audience", () => {
  test("when JWT_ISSUER / JWT_AUDIENCE are configured, tokens must carry them", async () => {
    const strict = await buildApp({
      verifier: hs256Verifier(SECRET, { issuer: "https://auth.example.com", audience: "tasks-api" }),
    });
    const good = await tokenFor(newUser(), { claims: { iss: "https://auth.example.com", aud: "tasks-api" } });
    expect((await strict.request("GET", "/api/tasks", { token: good })).status).toBe(200);
    for (const claims of [
      { iss: "https://evil.example.com", aud: "tasks-api" },
      { iss: "https://auth.example.com", aud: "other" },
      {},
    ]) {
      const res = await strict.request("GET", "/api/tasks", { token: await tokenFor(newUser(), { claims }) });
      expect(res.status).toBe(401);
    }
  });
});
