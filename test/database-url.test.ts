// DATABASE_URL's parameters, read through the service's configuration as libpq reads them: each one is
// honoured or refused at startup with DATABASE_URL and the parameter named, never dropped.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../src/config";
import { postgresOptions } from "../src/db/client";

const SECRET = "s".repeat(32);
const BASE = "postgresql://app:hunter2-secret@db.example.com:6543/tasks";
const dir = mkdtempSync(join(tmpdir(), "tasks-url-"));
const caFile = join(dir, "ca.pem");
writeFileSync(caFile, "-----BEGIN CERTIFICATE-----\nnot parsed here\n-----END CERTIFICATE-----\n");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const options = (query: string) => {
  const config = loadConfig({ BETTER_AUTH_SECRET: SECRET, DATABASE_URL: `${BASE}${query}` });
  if (config.database.kind !== "postgres") throw new Error("expected postgres");
  return postgresOptions(config.database);
};
const problems = (query: string) => {
  try {
    loadConfig({ BETTER_AUTH_SECRET: SECRET, DATABASE_URL: `${BASE}${query}` });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};
const tls = (query: string) => {
  const ssl = options(query).ssl;
  return typeof ssl === "object" ? { sslmode: ssl.sslmode, ca: ssl.ca, full: ssl.checkServerIdentity.length > 0 } : ssl;
};

describe("DATABASE_URL parameters", () => {
  test("host, port, database, user and password come from the URL, decoded", () => {
    const o = postgresOptions({
      kind: "postgres",
      url: "postgres://us%40er:p%2Fw%3A@[::1]:5433/my%20db",
      poolMax: 1,
      prepare: true,
    });
    expect(o).toMatchObject({ host: "::1", port: 5433, database: "my db", username: "us@er", pass: "p/w:" });
    expect(
      postgresOptions({
        kind: "postgres",
        url: "postgres://u@x/db?host=/run/postgresql&port=5444",
        poolMax: 1,
        prepare: true,
      }),
    ).toMatchObject({ path: "/run/postgresql/.s.PGSQL.5444", ssl: false });
  });

  test.each([
    ["", "prefer"],
    ["?sslmode=disable", false],
    ["?sslmode=allow", "allow"],
    ["?sslmode=prefer", "prefer"],
    ["?sslmode=require", "require"],
  ])("%s without root certificates verifies nothing: ssl %p", (query, expected) => {
    expect(tls(query) as unknown).toBe(expected);
  });

  test("verify-ca checks the chain against sslrootcert, verify-full also the host name", () => {
    expect(tls(`?sslmode=verify-ca&sslrootcert=${caFile}`)).toMatchObject({
      sslmode: "verify-ca",
      ca: expect.stringContaining("BEGIN CERTIFICATE"),
      full: false,
    });
    expect(tls(`?sslmode=verify-full&sslrootcert=${caFile}`)).toMatchObject({ sslmode: "verify-full", full: true });
  });

  test("require (and prefer) with sslrootcert checks the chain, as libpq does", () => {
    expect(tls(`?sslmode=require&sslrootcert=${caFile}`)).toMatchObject({ sslmode: "require", full: false });
    expect(tls(`?sslrootcert=${caFile}`)).toMatchObject({ sslmode: "prefer", full: false });
  });

  test("sslrootcert=system uses the system's roots and means verify-full", () => {
    const ssl = tls("?sslrootcert=system") as { sslmode: string; ca: string[]; full: boolean };
    expect(ssl.sslmode).toBe("verify-full");
    expect(ssl.full).toBe(true);
    expect(ssl.ca.length).toBeGreaterThan(10);
    expect(tls("?sslmode=verify-full&sslrootcert=system")).toMatchObject({ sslmode: "verify-full", full: true });
  });

  test.each([
    ["", "prefer"],
    ["?channel_binding=disable", "disable"],
    ["?channel_binding=prefer", "prefer"],
    ["?channel_binding=require&sslmode=require", "require"],
  ])("channel_binding %s is %s", (query, expected) =>
    expect(options(query).channel_binding).toBe(expected as "prefer"),
  );

  test("application_name, fallback_application_name and options are sent as libpq sends them", () => {
    expect(options("").connection).toMatchObject({ application_name: "tasks-api" });
    expect(options("?application_name=worker").connection).toMatchObject({ application_name: "worker" });
    expect(options("?fallback_application_name=fb").connection).toMatchObject({ application_name: "fb" });
    expect(options("?options=endpoint%3Dep-cool-123").connection).toMatchObject({ options: "endpoint=ep-cool-123" });
    // libpq's no-op values are accepted
    expect(
      problems("?sslnegotiation=postgres&sslsni=1&target_session_attrs=any&gssencmode=prefer&client_encoding=UTF8"),
    ).toEqual([]);
  });

  test("several hosts (libpq's failover list) are refused", () => {
    expect(problems("").length).toBe(0);
    const found = (() => {
      try {
        loadConfig({ BETTER_AUTH_SECRET: SECRET, DATABASE_URL: "postgres://u:hunter2-secret@db1,db2/tasks" });
      } catch (error) {
        return (error as ConfigError).problems;
      }
      return [];
    })();
    expect(found).toEqual(["DATABASE_URL names several hosts; the service connects to one"]);
  });

  test.each([
    ["sslmode", "?sslmode=sometimes"],
    ["sslmode", "?sslmode=require&sslrootcert=system"],
    ["sslmode", "?sslmode=verify-ca&sslrootcert=system"],
    ["sslrootcert", "?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"],
    ["sslrootcert", "?sslmode=require&sslrootcert=/nonexistent/ca.pem"],
    ["sslrootcert", "?sslmode=verify-full"],
    ["sslrootcert", "?sslmode=verify-ca"],
    ["channel_binding", "?channel_binding=always"],
    ["channel_binding", "?sslmode=disable&channel_binding=require"],
    ["sslcert", "?sslcert=/c.pem"],
    ["sslkey", "?sslkey=/k.pem"],
    ["sslcrl", "?sslcrl=/crl.pem"],
    ["sslnegotiation", "?sslnegotiation=direct"],
    ["sslsni", "?sslsni=0"],
    ["target_session_attrs", "?target_session_attrs=read-write"],
    ["gssencmode", "?gssencmode=require"],
    ["client_encoding", "?client_encoding=LATIN1"],
    ["connect_timeout", "?connect_timeout=10"],
    ["ssl_min_protocol_version", "?ssl_min_protocol_version=TLSv1.3"],
    ["require_auth", "?require_auth=scram-sha-256"],
    ["search_path", "?search_path=tasks"],
    ["pgbouncer", "?pgbouncer=true"],
    ["sslmode", "?sslmode=require&sslmode=disable"],
  ])("%s is refused at startup, naming DATABASE_URL and the parameter: %s", (name, query) => {
    const found = problems(query);
    expect(found.length).toBeGreaterThan(0);
    expect(found.some((p) => p.includes("DATABASE_URL") && p.includes(name))).toBe(true);
    expect(found.join(" ")).not.toContain("hunter2");
  });
});
