// A real, unmodified Better Auth server (email + password, jwt plugin) on its own database, driven
// over HTTP the way a Next.js frontend drives it. PostgreSQL when TEST_DATABASE_URL is set, else an
// in-memory SQLite; either way its own tables, created by Better Auth's own migrations.
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { createJwk, type JWKOptions, type JwtOptions, jwt } from "better-auth/plugins/jwt";
import { Pool } from "pg";
import { createFreshDatabase } from "../setup";

export interface BetterAuthServer {
  /** Base URL, also the default `iss` and `aud` of its tokens. */
  url: string;
  signUp(email: string, password: string, name: string): Promise<{ cookie: string; userId: string }>;
  /** GET /api/auth/token with the session cookie, as a frontend does. */
  token(cookie: string): Promise<string>;
  /** The `set-auth-jwt` header of GET /api/auth/get-session, the other way a frontend gets one. */
  tokenFromSession(cookie: string): Promise<string>;
  /** Adds a signing key with the plugin's own createJwk(); the next token uses it, old keys stay published. */
  rotateKeys(): Promise<void>;
  /** Deletes a signing key from Better Auth's store, so its JWKS no longer publishes it. */
  removeKey(kid: string): Promise<void>;
  /** Stops answering HTTP (Better Auth down); `restart()` brings it back on the same port. */
  stop(): Promise<void>;
  restart(): void;
  close(): Promise<void>;
  /** How many times its JWKS endpoint has been fetched. */
  jwksFetches(): number;
}

export async function startBetterAuth(
  opts: { alg?: JWKOptions["alg"]; expirationTime?: string; audience?: string } = {},
): Promise<BetterAuthServer> {
  // Listen first so the base URL (and so the default iss/aud) is known before betterAuth() is built.
  let handler: (req: Request) => Response | Promise<Response> = () => new Response("starting", { status: 503 });
  let jwksFetches = 0;
  const listen = (port: number) =>
    Bun.serve({
      hostname: "127.0.0.1",
      port,
      fetch: (req) => {
        if (new URL(req.url).pathname === "/api/auth/jwks") jwksFetches++;
        return handler(req);
      },
    });
  let server: ReturnType<typeof listen> | undefined = listen(0);
  const port = server.port!;
  const url = `http://127.0.0.1:${port}`;

  let database: unknown;
  let closeDatabase = async () => {};
  if (process.env.TEST_DATABASE_URL) {
    const fresh = await createFreshDatabase("better_auth");
    const pool = new Pool({ connectionString: fresh.url, max: 3 });
    database = pool;
    closeDatabase = async () => {
      await pool.end();
      await fresh.drop();
    };
  } else {
    const { Database } = await import("bun:sqlite");
    const sqlite = new Database(":memory:");
    database = sqlite;
    closeDatabase = async () => sqlite.close();
  }

  const alg = opts.alg ?? "EdDSA";
  const jwtOptions = {
    jwks: { keyPairConfig: alg === "EdDSA" ? { alg, crv: "Ed25519" } : ({ alg } as JWKOptions) },
    jwt: {
      ...(opts.expirationTime ? { expirationTime: opts.expirationTime } : {}),
      ...(opts.audience ? { audience: opts.audience } : {}),
    },
  } satisfies JwtOptions;
  const options = {
    baseURL: url,
    secret: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex"),
    database: database as any,
    emailAndPassword: { enabled: true },
    trustedOrigins: [url],
    plugins: [jwt(jwtOptions)],
    telemetry: { enabled: false },
    logger: { level: "error" as const },
    // `bun test` sets NODE_ENV=test, under which Better Auth skips its origin/CSRF checks; keep them on.
    advanced: { disableOriginCheck: false, disableCSRFCheck: false },
  };
  await (await getMigrations(options)).runMigrations();
  const auth = betterAuth(options);
  await auth.$context;
  handler = auth.handler;

  const get = async (path: string, cookie: string) => {
    const res = await fetch(`${url}/api/auth${path}`, { headers: { cookie } });
    if (!res.ok) throw new Error(`GET ${path} -> ${res.status}: ${await res.text()}`);
    return res;
  };

  return {
    url,
    jwksFetches: () => jwksFetches,
    async signUp(email, password, name) {
      const res = await fetch(`${url}/api/auth/sign-up/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: url },
        body: JSON.stringify({ email, password, name }),
      });
      if (!res.ok) throw new Error(`sign-up -> ${res.status}: ${await res.text()}`);
      const cookie = res.headers
        .getSetCookie()
        .map((c) => c.split(";", 1)[0]!)
        .join("; ");
      return { cookie, userId: ((await res.json()) as { user: { id: string } }).user.id };
    },
    token: async (cookie) => ((await (await get("/token", cookie)).json()) as { token: string }).token,
    tokenFromSession: async (cookie) => (await get("/get-session", cookie)).headers.get("set-auth-jwt") ?? "",
    async rotateKeys() {
      await Bun.sleep(2); // the plugin signs with the newest key by createdAt (millisecond resolution)
      await createJwk({ context: await auth.$context } as any, jwtOptions);
    },
    async removeKey(kid) {
      await (await auth.$context).adapter.delete({ model: "jwks", where: [{ field: "id", value: kid }] });
    },
    async stop() {
      await server?.stop(true);
      server = undefined;
    },
    restart() {
      server ??= listen(port);
    },
    async close() {
      await server?.stop(true);
      await closeDatabase();
    },
  };
}
