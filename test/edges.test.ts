// Input a hostile client controls: the Host header, bodies of unauthenticated requests, token
// subjects and text, CORS origins; and a JWKS that fails, is empty, is huge, or drops a key.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CompactSign, decodeProtectedHeader, generateKeyPair, SignJWT } from "jose";
import { createApp } from "../src/app";
import { cachedVerifier } from "../src/auth/cache";
import { jwksVerifier } from "../src/auth/jwks";
import { hs256Verifier } from "../src/auth/verifier";
import { createLogger } from "../src/logger";
import { testDatabase } from "./setup";
import { buildApp, newUser, SECRET, tokenFor } from "./support/app";
import { type BetterAuthServer, startBetterAuth } from "./support/better-auth";

/** Writes `data` on a fresh connection; resolves with what came back by close or `ms`. */
function rawRequest(port: number, data: string, ms = 2000): Promise<string> {
  return new Promise((resolve) => {
    let out = "";
    const timer = setTimeout(() => resolve(out), ms);
    void Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open: (socket) => void socket.write(data),
        data: (_socket, chunk) => {
          out += chunk.toString();
          // One answer is all these tests need: stop at the end of its body.
          const head = out.indexOf("\r\n\r\n");
          const length = /content-length: *(\d+)/i.exec(out.slice(0, head));
          if (head !== -1 && length && out.length >= head + 4 + Number(length[1])) {
            clearTimeout(timer);
            resolve(out);
          }
        },
        close: () => {
          clearTimeout(timer);
          resolve(out);
        },
        error: () => {
          clearTimeout(timer);
          resolve(out);
        },
      },
    });
  });
}
const statusOf = (answer: string) => Number(answer.split(" ")[1]);

describe("a live server, over raw sockets", () => {
  const logs: Record<string, any>[] = [];
  const waiters: { match: (line: Record<string, any>) => boolean; resolve: () => void }[] = [];
  /** Resolves when a log line matching `match` has been written (request lines come after the answer). */
  const logged = (match: (line: Record<string, any>) => boolean) =>
    logs.some(match) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ match, resolve }));
  const record = (line: string) => {
    const entry = JSON.parse(line);
    logs.push(entry);
    for (const w of waiters.filter((w) => w.match(entry))) w.resolve();
  };
  let server: { port: number; stop(): void };
  beforeAll(async () => {
    const app = createApp({
      config: {
        corsOrigins: [],
        fairShare: {
          rateLimitPerMinute: 0,
          rateLimitBurst: 0,
          userConcurrency: 0,
          userQueueTimeoutMs: 0,
          maxTasksPerUser: 0,
        },
      } as any,
      database: await testDatabase(),
      verifier: hs256Verifier(SECRET, {}),
      logger: createLogger({ level: "debug" }, record),
    }).listen({ hostname: "127.0.0.1", port: 0 });
    server = { port: app.server!.port!, stop: () => void app.stop(true) };
  });
  afterAll(() => server.stop());

  test("the Host header never changes which route runs: Host: a with /zz/api/tasks is a 404, and the log says what ran", async () => {
    const token = await tokenFor(newUser("host"));
    const body = '{"title":"must not exist"}';
    const post = await rawRequest(
      server.port,
      `POST /zz/api/tasks HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(statusOf(post)).toBe(404);
    for (const [host, path] of [
      ["x", "/api/docs"],
      ["x", "/api/openapi.json"],
      ["x", "/api/health/ready"],
      ["a:1", "/zz/health"],
    ]) {
      expect({
        host,
        path,
        status: statusOf(await rawRequest(server.port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`)),
      }).toEqual({ host, path, status: 404 });
    }
    const list = await rawRequest(
      server.port,
      `GET /api/tasks HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\n\r\n`,
    );
    expect(statusOf(list)).toBe(200);
    expect(list.endsWith("[]")).toBe(true);
    await logged((l) => l.msg === "request" && l.path === "/api/tasks");
    expect(logs.filter((l) => l.msg === "request").slice(-1)[0]).toMatchObject({ path: "/api/tasks", status: 200 });
    expect(logs.some((l) => l.msg === "request" && l.path === "/zz/api/tasks" && l.status === 404)).toBe(true);
  });

  test("an unauthenticated chunked body is answered 401 at once, without waiting for (or buffering) the body", async () => {
    const started = performance.now();
    const answer = await rawRequest(
      server.port,
      `POST /api/tasks HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{"title": "aaaaa\r\n`,
      3000,
    );
    expect(statusOf(answer)).toBe(401);
    expect(performance.now() - started).toBeLessThan(2500);
  });

  test("a chunked body (no Content-Length) is held to 64 KiB too: 413 over it, 201 under it", async () => {
    const token = await tokenFor(newUser("chunked"));
    const chunked = (json: string) =>
      `POST /api/tasks HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${Buffer.byteLength(json).toString(16)}\r\n${json}\r\n0\r\n\r\n`;
    // 3 bytes a character: 22,000 characters are 66,000 bytes, over the limit in bytes only.
    const over = await rawRequest(
      server.port,
      chunked(JSON.stringify({ title: "big", description: "€".repeat(22_000) })),
    );
    expect(statusOf(over)).toBe(413);
    expect(over).toContain("65536");
    const under = await rawRequest(
      server.port,
      chunked(JSON.stringify({ title: "small", description: "€".repeat(9_000) })),
    );
    expect(statusOf(under)).toBe(201);
  });
});

describe("authentication comes before the body", () => {
  test("an unauthenticated POST with malformed JSON answers 401, not 422, in one log line with the reason", async () => {
    const api = await buildApp();
    const res = await api.request("POST", "/api/tasks", {
      body: "{not json",
      headers: { "x-request-id": "anon-malformed" },
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ detail: "Not authenticated" });
    const bad = await api.request("PUT", "/api/tasks/1", {
      token: "not-a-token",
      body: { title: 5, extra: true },
      headers: { "x-request-id": "bad-token-body" },
    });
    expect(bad.status).toBe(401);
    await api.settled();
    for (const id of ["anon-malformed", "bad-token-body"]) {
      const lines = api.logs.filter((l) => l.request_id === id);
      expect(lines.length).toBe(1);
      expect(lines[0]).toMatchObject({ msg: "request", level: "warn", status: 401 });
      expect(typeof lines[0]!.auth_failure).toBe("string");
    }
  });
});

describe("text is well-formed and counted in code points", () => {
  const emoji = "\u{1F600}";
  test("a title of 255 emoji is accepted, 256 are refused; a lone surrogate in a title or description is a 422", async () => {
    const api = await buildApp();
    const user = newUser("text");
    const ok = await api.as(user, "POST", "/api/tasks", {
      title: emoji.repeat(255),
      description: emoji.repeat(10_000),
    });
    expect(ok.status).toBe(201);
    expect([...ok.body.title].length).toBe(255);
    expect((await api.as(user, "POST", "/api/tasks", { title: emoji.repeat(256) })).status).toBe(422);
    expect((await api.as(user, "POST", "/api/tasks", { title: "x", description: emoji.repeat(10_001) })).status).toBe(
      422,
    );
    for (const bad of ["\ud800", "a\udfffb", "\udc00\ud800"]) {
      expect((await api.as(user, "POST", "/api/tasks", { title: bad })).status).toBe(422);
      expect((await api.as(user, "POST", "/api/tasks", { title: "x", description: bad })).status).toBe(422);
    }
  });

  test("token subjects with lone surrogates are 401, so they cannot share one user's tasks; 255 emoji are a valid user id", async () => {
    const api = await buildApp();
    for (const sub of ["\ud800", "\udfff", "x\ud83d"]) {
      expect((await api.request("GET", "/api/tasks", { token: await tokenFor(sub) })).status).toBe(401);
    }
    expect((await api.request("GET", "/api/tasks", { token: await tokenFor(emoji.repeat(255)) })).status).toBe(200);
    expect((await api.request("GET", "/api/tasks", { token: await tokenFor(emoji.repeat(256)) })).status).toBe(401);
  });

  test("exp must be a finite NumericDate: 1e300 and 1e400 are refused", async () => {
    const api = await buildApp();
    expect(
      (
        await api.request("GET", "/api/tasks", {
          token: await tokenFor("big-exp", { claims: { exp: 1e300 }, expiresIn: null }),
        })
      ).status,
    ).toBe(401);
    const infinite = await new CompactSign(new TextEncoder().encode('{"sub":"inf-exp","exp":1e400}'))
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode(SECRET));
    expect((await api.request("GET", "/api/tasks", { token: infinite })).status).toBe(401);
  });
});

describe("CORS", () => {
  test("CORS_ORIGINS=* answers * without credentials and never echoes null", async () => {
    const api = await buildApp({ corsOrigins: ["*"] });
    for (const origin of ["null", "https://evil.example.com"]) {
      const res = await api.request("GET", "/health", { headers: { origin } });
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    }
  });

  test("a list echoes only a listed origin: not null, not an unlisted one, not a name like constructor", async () => {
    const api = await buildApp({ corsOrigins: ["https://app.example.com"] });
    expect(
      (await api.request("GET", "/health", { headers: { origin: "https://app.example.com" } })).headers.get(
        "access-control-allow-origin",
      ),
    ).toBe("https://app.example.com");
    for (const origin of ["null", "constructor", "http://app.example.com", "app.example.com"]) {
      const allowed = (await api.request("GET", "/health", { headers: { origin } })).headers.get(
        "access-control-allow-origin",
      );
      expect({ origin, allowed }).toEqual({ origin, allowed: null });
    }
  });
});

describe("the JWKS, when it misbehaves", () => {
  const quiet = () => createLogger({ level: "error" }, () => {});
  let ba: BetterAuthServer;
  beforeAll(async () => {
    ba = await startBetterAuth();
  }, 30_000);
  afterAll(() => ba.close());

  /** A JWKS endpoint answering `respond`, counting its fetches. */
  const endpoint = (respond: () => Response) => {
    let fetches = 0;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => {
        fetches++;
        return respond();
      },
    });
    return { url: `http://127.0.0.1:${server.port}/jwks`, fetches: () => fetches, stop: () => server.stop(true) };
  };
  const bogusTokens = async (n: number) => {
    const { privateKey } = await generateKeyPair("EdDSA");
    return Promise.all(
      Array.from({ length: n }, () =>
        new SignJWT({ sub: "x" })
          .setProtectedHeader({ alg: "EdDSA", kid: crypto.randomUUID() })
          .setExpirationTime("5m")
          .sign(privateKey),
      ),
    );
  };

  for (const [state, respond] of [
    ["answering 500", () => new Response("down", { status: 500 })],
    ["publishing no key", () => Response.json({ keys: [] })],
  ] as const) {
    test(`with no key cached and the JWKS ${state}, a flood of tokens makes at most one fetch per cooldown`, async () => {
      const jwks = endpoint(respond);
      try {
        const api = await buildApp({
          verifier: (logger) => jwksVerifier({ url: jwks.url, logger, cooldownMs: 10_000 }),
        });
        const tokens = await bogusTokens(40);
        const statuses = [];
        for (const token of tokens.slice(0, 20))
          statuses.push((await api.request("GET", "/api/tasks", { token })).status);
        statuses.push(
          ...(await Promise.all(
            tokens.slice(20).map(async (token) => (await api.request("GET", "/api/tasks", { token })).status),
          )),
        );
        expect(statuses.every((s) => s === 401 || s === 503)).toBe(true);
        expect(jwks.fetches()).toBe(1);
        await api.settled();
        expect(api.logs.filter((l) => l.level === "error").length).toBeLessThanOrEqual(1);
      } finally {
        jwks.stop();
      }
    });
  }

  test("a JWKS over 1 MiB is refused (no key from it is trusted)", async () => {
    const real = (await (await fetch(`${ba.url}/api/auth/jwks`)).json()) as { keys: unknown[] };
    const huge = JSON.stringify({ keys: real.keys, padding: "x".repeat(2 * 1024 * 1024) });
    const jwks = endpoint(() => new Response(huge, { headers: { "content-type": "application/json" } }));
    try {
      const logs: string[] = [];
      const verifier = jwksVerifier({
        url: jwks.url,
        issuer: ba.url,
        audience: ba.url,
        logger: createLogger({}, (l) => logs.push(l)),
      });
      const { cookie } = await ba.signUp(
        `huge-${crypto.randomUUID().slice(0, 8)}@example.com`,
        "correct-horse-battery",
        "H",
      );
      const token = await ba.token(cookie);
      expect(
        await verifier.verify(token).then(
          () => "accepted",
          (e) => e.status,
        ),
      ).toBe(503);
      expect(logs.join("\n")).toContain("larger than");
    } finally {
      jwks.stop();
    }
  });

  test("a key deleted at Better Auth stops verifying after the next refresh, cached verifications included", async () => {
    const verifier = cachedVerifier(
      jwksVerifier({
        url: `${ba.url}/api/auth/jwks`,
        issuer: ba.url,
        audience: ba.url,
        logger: quiet(),
        cooldownMs: 100,
        maxAgeMs: 300,
      }),
    );
    const { cookie } = await ba.signUp(
      `gone-${crypto.randomUUID().slice(0, 8)}@example.com`,
      "correct-horse-battery",
      "G",
    );
    const old = await ba.token(cookie);
    expect((await verifier.verify(old)).userId).toBeString();
    expect((await verifier.verify(old)).userId).toBeString(); // now from the cache
    await ba.rotateKeys();
    await ba.removeKey(decodeProtectedHeader(old).kid!);
    const fresh = await ba.token(cookie);
    expect(decodeProtectedHeader(fresh).kid).not.toBe(decodeProtectedHeader(old).kid);
    await Bun.sleep(400); // past the keys' max age
    expect(
      await verifier.verify(old).then(
        () => "accepted",
        (e) => e.detail,
      ),
    ).toBe("Invalid token");
    expect((await verifier.verify(fresh)).userId).toBeString();
  });
});

describe("where keys may come from", () => {
  const { loadConfig } = require("../src/config") as typeof import("../src/config");
  const production = { NODE_ENV: "production", DATABASE_URL: "postgres://u@db.example.com/tasks" };
  test("in production BETTER_AUTH_URL and JWKS_URL must be https://, except on loopback; JWKS_MAX_AGE_MS is read", () => {
    for (const name of ["BETTER_AUTH_URL", "JWKS_URL"]) {
      expect(() => loadConfig({ ...production, [name]: "http://auth.example.com" })).toThrow(
        `${name} must be an https:// URL`,
      );
      expect(loadConfig({ ...production, [name]: "http://127.0.0.1:3000" }).auth).toBeDefined();
      expect(loadConfig({ ...production, [name]: "https://auth.example.com" }).auth).toBeDefined();
    }
    expect(loadConfig({ BETTER_AUTH_URL: "http://auth.example.com" }).auth.betterAuthUrl).toBe(
      "http://auth.example.com",
    ); // development
    expect(
      loadConfig({ ...production, JWKS_URL: "https://a.example.com/jwks", JWKS_MAX_AGE_MS: "60000" }).auth.jwksMaxAgeMs,
    ).toBe(60_000);
  });
});
