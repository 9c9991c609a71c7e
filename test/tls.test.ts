// TLS to PostgreSQL as libpq means it, against a server of the test's own (TLS and SCRAM only) and a man in
// the middle that terminates TLS with its own certificate: what each sslmode and channel_binding lets through.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { loadConfig } from "../src/config";
import { type Database, openDatabase } from "../src/db/client";
import { buildApp, newUser, SECRET } from "./support/app";
import { clusterAvailable } from "./support/cluster";
import { expectNoLeaks } from "./support/hygiene";
import { type Mitm, startMitm } from "./support/mitm";
import { pgbouncerAvailable, startPgBouncer } from "./support/pgbouncer";
import { CLUSTER, missing, POSTGRES } from "./support/requires";
import { baseEnv, runToExit } from "./support/server";
import { startTlsCluster, type TlsCluster } from "./support/tls";

const rowsOf = (result: any): any[] => (Array.isArray(result) ? result : result.rows);

describe.skipIf(missing(clusterAvailable, CLUSTER))("TLS and channel binding to a real PostgreSQL", () => {
  let pg: TlsCluster;
  let impostor: Mitm; // its own CA: nothing chains to the test CA
  let otherName: Mitm; // the test CA's certificate, for another host name
  const open: Database[] = [];

  const connect = async (url: string) => {
    const config = loadConfig({ BETTER_AUTH_SECRET: SECRET, DATABASE_URL: url });
    const database = await openDatabase(config.database, config.databaseLimits);
    open.push(database);
    return database;
  };
  /** The error the first round trip ends with (the startup wait classifies it; see the process tests). */
  const refusal = async (url: string) => {
    const database = await connect(url);
    const error = await database.ping().then(
      () => undefined,
      (e) => e as Error & { code?: string },
    );
    expect(error).toBeDefined();
    return error!;
  };
  /** Create, read, update, delete through the app; returns whether the server saw TLS on that connection. */
  const crud = async (database: Database) => {
    const api = await buildApp({ database });
    const user = newUser();
    const title = `over tls ${crypto.randomUUID()}`;
    const created = await api.as(user, "POST", "/api/tasks", { title });
    if (created.status !== 201) console.log(JSON.stringify(api.logs.filter((l) => l.level === "error")));
    expect(created.status).toBe(201);
    expect((await api.as(user, "GET", `/api/tasks/${created.body.id}`)).body.title).toBe(title);
    expect((await api.as(user, "PUT", `/api/tasks/${created.body.id}`, { status: "completed" })).body.status).toBe(
      "completed",
    );
    expect((await api.as(user, "DELETE", `/api/tasks/${created.body.id}`)).status).toBe(204);
    const [row] = rowsOf(
      await database.read((db) => db.execute(sql`select ssl from pg_stat_ssl where pid = pg_backend_pid()`)),
    );
    return { ssl: row.ssl as boolean, title };
  };
  const ca = () => `sslrootcert=${encodeURIComponent(pg.certs.caFile)}`;
  const through = (mitm: Mitm, query: string) => pg.url(query, { port: mitm.port });
  /** The real entry point with this DATABASE_URL, to its exit; startup would wait 20 s for a database that is down. */
  const start = (url: string) =>
    runToExit(
      { ...baseEnv(), BETTER_AUTH_SECRET: SECRET, DATABASE_URL: url, DB_STARTUP_TIMEOUT_MS: "20000" },
      { timeoutMs: 30_000 },
    );
  const expectStartupRefused = (result: Awaited<ReturnType<typeof start>>, cause: RegExp) => {
    expect(result.exitCode).toBe(1);
    const stderr = result.stderr.trim();
    expect(stderr.split("\n").length).toBe(1);
    expect(stderr).toContain("DATABASE_URL");
    expect(stderr).toMatch(cause);
    expect(result.ms).toBeLessThan(10_000); // at once, not after DB_STARTUP_TIMEOUT_MS
    expectNoLeaks({ logs: [result.stdout, result.stderr], secrets: [pg.password, "wrong-pw-hunter2"] });
  };

  beforeAll(async () => {
    pg = startTlsCluster();
    impostor = await startMitm({
      host: "127.0.0.1",
      port: pg.cluster.port,
      key: pg.certs.impostor.key,
      cert: pg.certs.impostor.cert,
    });
    otherName = await startMitm({
      host: "127.0.0.1",
      port: pg.cluster.port,
      key: pg.certs.otherName.key,
      cert: pg.certs.otherName.cert,
    });
    await (await connect(pg.url("?sslmode=require"))).migrate();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(open.map((d) => d.close().catch(() => {})));
    await impostor?.stop();
    await otherName?.stop();
    pg?.destroy();
  });

  test.each([
    "?sslmode=require",
    "?sslmode=verify-ca&CA",
    "?sslmode=verify-full&CA",
    "?sslmode=require&channel_binding=require",
    "?sslmode=verify-full&CA&channel_binding=require",
  ])("CRUD works over TLS with %s", async (query) => {
    expect((await crud(await connect(pg.url(query.replace("CA", ca()))))).ssl).toBe(true);
  });

  test("with no sslmode (prefer) TLS is used when the server offers it", async () => {
    expect((await crud(await connect(pg.url()))).ssl).toBe(true);
  });

  test("sslmode=allow tries plain text first and, refused by the server, uses TLS", async () => {
    expect((await crud(await connect(pg.url("?sslmode=allow")))).ssl).toBe(true);
  });

  test("sslmode=disable is refused by a server that only accepts TLS", async () => {
    expect((await refusal(pg.url("?sslmode=disable"))).code).toBe("28000");
  });

  test("verify-full refuses a certificate of the right CA for another host name; verify-ca accepts the chain", async () => {
    const error = await refusal(through(otherName, `?sslmode=verify-full&${ca()}`));
    expect(error.code).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
    // verify-ca checks only the chain; here channel binding is what notices the substitution...
    expect((await refusal(through(otherName, `?sslmode=verify-ca&${ca()}`))).message).toContain("channel binding");
    // ...and without it, the man in the middle holding a certificate of the same CA reads everything.
    const { title } = await crud(
      await connect(through(otherName, `?sslmode=verify-ca&${ca()}&channel_binding=disable`)),
    );
    expect(otherName.seen).toContain(title);
  });

  test("a man in the middle with its own certificate is refused by verify-full", async () => {
    const error = await refusal(through(impostor, `?sslmode=verify-full&${ca()}`));
    expect(error.code).toMatch(/SELF_SIGNED|UNABLE_TO|CERT/);
    expect(impostor.seen).not.toContain("password"); // nothing was sent to it
  });

  test("a man in the middle with its own certificate is refused with channel_binding=require: the service exits 1 at once", async () => {
    const relayedBefore = impostor.relayed;
    const result = await start(through(impostor, "?sslmode=require&channel_binding=require"));
    expectStartupRefused(result, /channel binding/i);
    expect(impostor.relayed).toBeGreaterThan(relayedBefore); // it did relay the attempt, and learnt nothing of use
    expect(impostor.seen).not.toMatch(/select|insert/i);
  }, 30_000);

  test("with channel_binding at its default (prefer), the server itself refuses the man in the middle; a request answers 503, not 500", async () => {
    const api = await buildApp({ database: await connect(through(impostor, "?sslmode=require")) });
    const res = await api.as(newUser(), "GET", "/api/tasks");
    expect(res.status).toBe(503);
    expect(api.logs.some((l) => l.msg === "database unavailable" && /channel binding/.test(l.error))).toBe(true);
  });

  test("the same man in the middle succeeds with sslmode=require and channel_binding=disable: it reads the queries", async () => {
    const { ssl, title } = await crud(await connect(through(impostor, "?sslmode=require&channel_binding=disable")));
    expect(ssl).toBe(true); // the server sees TLS: to the man in the middle
    expect(impostor.seen).toContain(title);
  });

  test("channel_binding=require refuses a connection without TLS (the Unix socket) at startup, naming DATABASE_URL", async () => {
    const result = await start(pg.url(`?host=${encodeURIComponent(pg.cluster.dir)}&channel_binding=require`));
    expectStartupRefused(result, /channel.binding.*not encrypted/i);
  }, 30_000);

  test("channel_binding=require refuses md5 before sending the password, and trust; prefer accepts both", async () => {
    expect((await refusal(pg.url("?sslmode=require&channel_binding=require", { user: pg.md5User }))).message).toContain(
      "MD5",
    );
    expect(
      (await refusal(pg.url("?sslmode=require&channel_binding=require", { user: pg.trustUser }))).message,
    ).toContain("without channel binding");
    for (const user of [pg.md5User, pg.trustUser]) {
      const database = await connect(pg.url("?sslmode=require", { user, database: "postgres" }));
      await database.ping();
    }
  });

  test("a wrong password exits 1 at once, naming the cause and not the password", async () => {
    const url = pg.url("?sslmode=require").replace(pg.password, "wrong-pw-hunter2");
    expectStartupRefused(await start(url), /password authentication failed.*28P01/);
  }, 30_000);

  test("a missing database exits 1 at once, naming it", async () => {
    expectStartupRefused(
      await start(pg.url("?sslmode=require", { database: "nosuchdb" })),
      /"nosuchdb" does not exist.*3D000/,
    );
  }, 30_000);

  // tls-server-end-point hashes the certificate with its own signature hash (SHA-256 for SHA-1): a wrong
  // choice makes the server refuse the binding. Not here: SHA-1 (this OpenSSL's security level stops the
  // server loading such a certificate) and RSA-PSS (PostgreSQL 15 cannot bind those itself).
  test.each([
    ["ecdsa-with-SHA384", { key: "ec", digest: "sha384", signer: "test-ca" }],
    ["ecdsa-with-SHA512", { key: "ec", digest: "sha512", signer: "test-ca" }],
    ["sha256WithRSAEncryption", { key: "rsa", digest: "sha256", signer: "rsa-ca" }],
    ["sha384WithRSAEncryption", { key: "rsa", digest: "sha384", signer: "rsa-ca" }],
    ["sha512WithRSAEncryption", { key: "rsa", digest: "sha512", signer: "rsa-ca" }],
  ] as const)(
    "channel_binding=require works with a server certificate signed with %s",
    async (_name, options) => {
      const pair = pg.certs.issue(`server-${options.key}-${options.digest}`, {
        ...options,
        cn: "localhost",
        san: "DNS:localhost,IP:127.0.0.1",
      });
      await pg.useServerCertificate(pair);
      try {
        expect((await crud(await connect(pg.url(`?sslmode=verify-full&${ca()}&channel_binding=require`)))).ssl).toBe(
          true,
        );
      } finally {
        await pg.useServerCertificate(pg.certs.server);
      }
    },
    30_000,
  );

  test.skipIf(missing(!!process.env.TEST_DATABASE_URL, POSTGRES))(
    "sslmode=require against a server without TLS exits 1 at once",
    async () => {
      const url = new URL(process.env.TEST_DATABASE_URL!);
      url.searchParams.set("sslmode", "require");
      const result = await start(url.toString());
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain("DATABASE_URL");
      expect(result.stderr).toContain("does not support SSL");
      expect(result.ms).toBeLessThan(10_000);
    },
    30_000,
  );

  // PgBouncer terminates TLS and SCRAM itself and cannot offer SCRAM-SHA-256-PLUS: prefer gets plain SCRAM
  // (the client says it could bind), require is refused, as psql refuses it.
  describe.skipIf(!pgbouncerAvailable)("through PgBouncer with TLS on both sides", () => {
    const data = () => `${pg.cluster.dir}/data`;
    const bouncer = () =>
      startPgBouncer(
        { url: `${pg.cluster.url}?sslmode=require`, password: pg.cluster.password },
        {
          client_tls_sslmode: "require",
          client_tls_key_file: `${data()}/server.key`,
          client_tls_cert_file: `${data()}/server.crt`,
          server_tls_sslmode: "require",
        },
      );
    const pooledUrl = (port: number, query: string) =>
      `postgres://postgres:${pg.cluster.password}@127.0.0.1:${port}/tasks${query}`;

    test("verify-full with channel_binding at prefer: CRUD works", async () => {
      const pooler = await bouncer();
      try {
        expect((await crud(await connect(pooledUrl(pooler.port, `?sslmode=verify-full&${ca()}`)))).ssl).toBe(true);
      } finally {
        await Promise.all(open.splice(0).map((d) => d.close()));
        pooler.destroy();
      }
    }, 30_000);

    test("channel_binding=require exits 1 at start, naming DATABASE_URL", async () => {
      const pooler = await bouncer();
      try {
        const result = await start(pooledUrl(pooler.port, `?sslmode=verify-full&${ca()}&channel_binding=require`));
        expectStartupRefused(result, /SCRAM-SHA-256-PLUS/);
        expectNoLeaks({ logs: [result.stdout, result.stderr], secrets: [pg.cluster.password] });
      } finally {
        pooler.destroy();
      }
    }, 30_000);
  });
});
