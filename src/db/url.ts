// DATABASE_URL read the way libpq reads it, so a URL that psql accepts means the same thing here. A
// parameter the service cannot honour is a problem to report, never one to drop: dropping
// `channel_binding` or `sslrootcert` would connect with less protection than the URL asked for.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";

export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";
export type ChannelBinding = "disable" | "prefer" | "require";

export const SSL_MODES: readonly SslMode[] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
const CHANNEL_BINDINGS: readonly ChannelBinding[] = ["disable", "prefer", "require"];

export interface PostgresTarget {
  host: string;
  port: number;
  /** a Unix-domain socket folder given as `host=/path`; libpq never uses TLS there */
  socketDir: string | undefined;
  database: string;
  user: string;
  password: string;
  sslmode: SslMode;
  /** what the certificate is checked against: nothing, the chain only, or the chain and the host name */
  verify: "none" | "chain" | "full";
  /** PEM roots (sslrootcert file, or the system's roots); undefined when nothing is verified */
  ca: string | string[] | undefined;
  channelBinding: ChannelBinding;
  /** startup parameters the URL sets on the server (application_name, options) */
  startup: Record<string, string>;
}

export type ParsedUrl = { ok: true; target: PostgresTarget } | { ok: false; problems: string[] };

// Where libpq finds its own spelling of these parameters; each entry says how this service answers it.
const ACCEPTED = new Set([
  "host",
  "port",
  "dbname",
  "user",
  "password",
  "sslmode",
  "sslrootcert",
  "channel_binding",
  "sslnegotiation",
  "sslsni",
  "target_session_attrs",
  "gssencmode",
  "application_name",
  "fallback_application_name",
  "options",
  "client_encoding",
]);
const REFUSED: Record<string, string> = {
  sslcert: "client certificates are not supported",
  sslkey: "client certificates are not supported",
  sslpassword: "client certificates are not supported",
  sslcertmode: "client certificates are not supported",
  sslcrl: "certificate revocation lists are not supported",
  sslcrldir: "certificate revocation lists are not supported",
  ssl_min_protocol_version: "the TLS version range is not configurable (TLS 1.2 or newer is used)",
  ssl_max_protocol_version: "the TLS version range is not configurable (TLS 1.2 or newer is used)",
  connect_timeout: "use DB_CONNECT_TIMEOUT_MS",
  require_auth: "not supported; use channel_binding=require to insist on SCRAM with channel binding",
  krbsrvname: "Kerberos/GSSAPI is not supported",
  gsslib: "Kerberos/GSSAPI is not supported",
  gssdelegation: "Kerberos/GSSAPI is not supported",
};

// The operating system's roots; a system without any gets Bun's built-in Mozilla store instead, which
// is what a system store holds.
const systemRoots = (): string[] => {
  const get = (tls as { getCACertificates?: (kind: string) => string[] }).getCACertificates;
  const system = typeof get === "function" ? get("system") : [];
  return system.length > 0 ? system : [...tls.rootCertificates];
};

/** Never puts the URL itself in a problem: it carries the password. */
export function parsePostgresUrl(raw: string, home = homedir()): ParsedUrl {
  const problems: string[] = [];
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  const params = url?.searchParams;
  if (!url || !params || !/^postgres(ql)?:$/.test(url.protocol) || (!url.hostname && !params.get("host"))) {
    return { ok: false, problems: ["DATABASE_URL must be a postgres:// or postgresql:// URL with a host"] };
  }
  const bad = (name: string, why: string) => problems.push(`DATABASE_URL parameter ${name}: ${why}`);
  if (url.hostname.includes(",")) problems.push("DATABASE_URL names several hosts; the service connects to one");
  for (const name of new Set(params.keys())) {
    if (REFUSED[name]) bad(name, REFUSED[name]);
    else if (!ACCEPTED.has(name)) bad(name, "unknown (not a libpq connection parameter the service honours)");
    else if (params.getAll(name).length > 1) bad(name, "given more than once");
  }
  const param = (name: string) => params.get(name) ?? undefined;
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const value = param(name);
    if (value === undefined) return fallback;
    if (!allowed.includes(value as T)) bad(name, `must be one of ${allowed.join(", ")}`);
    return allowed.includes(value as T) ? (value as T) : fallback;
  };

  // Only the values that mean "nothing to do" are accepted; the others ask for something not done here.
  const only = (name: string, allowed: string[], why: string) => {
    const value = param(name);
    if (value !== undefined && !allowed.includes(value)) bad(name, `${value} ${why} (accepted: ${allowed.join(", ")})`);
  };
  only("sslnegotiation", ["postgres"], "is not supported");
  only("sslsni", ["1"], "is not supported");
  only("target_session_attrs", ["any"], "is not supported: the service connects to one server");
  only("gssencmode", ["disable", "prefer"], "is not supported: there is no GSSAPI encryption here");
  const encoding = param("client_encoding");
  if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) bad("client_encoding", "the driver always uses UTF8");

  const channelBinding = oneOf("channel_binding", CHANNEL_BINDINGS, "prefer");
  const rootcert = param("sslrootcert");
  // libpq: sslrootcert=system means verify-full unless said otherwise, and refuses anything weaker.
  const sslmode = oneOf("sslmode", SSL_MODES, rootcert === "system" ? "verify-full" : "prefer");
  if (rootcert === "system" && param("sslmode") !== undefined && sslmode !== "verify-full") {
    bad("sslmode", `${sslmode} may not be used with sslrootcert=system (use verify-full)`);
  }
  if (sslmode === "disable" && channelBinding === "require") {
    bad("channel_binding", "require needs TLS, and sslmode=disable turns it off");
  }

  const hostParam = param("host");
  const socketDir = hostParam?.startsWith("/") ? hostParam : undefined;
  const host = socketDir ? "localhost" : (hostParam ?? decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, "$1"));
  const portText = param("port") ?? url.port ?? "";
  const port = portText === "" ? 5432 : Number(portText);
  if (!/^\d+$/.test(portText || "5432") || port < 1 || port > 65535) bad("port", "must be a number from 1 to 65535");

  // The root certificates: a file (libpq's default is ~/.postgresql/root.crt when it exists) or the system's.
  let ca: string | string[] | undefined;
  if (rootcert === "system") ca = systemRoots();
  else if (rootcert !== undefined) {
    try {
      ca = readFileSync(rootcert, "utf8");
    } catch (error) {
      bad("sslrootcert", `cannot read ${rootcert} (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
    }
  } else {
    try {
      ca = readFileSync(join(home, ".postgresql", "root.crt"), "utf8");
    } catch {}
  }
  if ((sslmode === "verify-ca" || sslmode === "verify-full") && ca === undefined && rootcert === undefined) {
    bad(
      "sslrootcert",
      `sslmode=${sslmode} needs root certificates: set sslrootcert to a CA file, or sslrootcert=system for the system's trusted roots`,
    );
  }
  // libpq checks the chain whenever it has root certificates, even for require; verify-full adds the host name.
  const verify =
    sslmode === "verify-full"
      ? "full"
      : sslmode === "verify-ca" || (ca !== undefined && sslmode !== "disable")
        ? "chain"
        : "none";

  const startup: Record<string, string> = {};
  const appName = param("application_name") ?? param("fallback_application_name");
  if (appName !== undefined) startup.application_name = appName;
  const options = param("options");
  if (options !== undefined) startup.options = options;

  if (problems.length > 0) return { ok: false, problems };
  const user = param("user") ?? decodeURIComponent(url.username);
  return {
    ok: true,
    target: {
      host,
      port,
      socketDir,
      database: param("dbname") ?? (decodeURIComponent(url.pathname.slice(1)) || user),
      user,
      password: param("password") ?? decodeURIComponent(url.password),
      sslmode: socketDir ? "disable" : sslmode,
      verify: socketDir ? "none" : verify,
      ca: verify === "none" ? undefined : ca,
      channelBinding,
      startup,
    },
  };
}
