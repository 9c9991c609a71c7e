// Real TLS for the tests: certificates made with openssl, and a PostgreSQL of the test's own that only
// accepts TLS with SCRAM (plain TCP is rejected), the way Neon and most managed servers are set up.

import { X509Certificate } from "node:crypto";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTempCluster, type TempCluster } from "./cluster";
import { connectTls } from "./mitm";

export interface KeyPair {
  key: string;
  cert: string;
  /** file paths of the same */
  keyFile: string;
  certFile: string;
}

export interface Certificates {
  dir: string;
  /** the CA file to give as sslrootcert (test-ca and rsa-ca) */
  caFile: string;
  /** for localhost and 127.0.0.1, signed by the CA: the real server's */
  server: KeyPair;
  /** for db.example.com only, signed by the same CA */
  otherName: KeyPair;
  /** for localhost and 127.0.0.1, signed by a CA of its own: what a man in the middle shows */
  impostor: KeyPair;
  destroy(): void;
}

function openssl(args: string[]) {
  const result = Bun.spawnSync(["openssl", ...args], { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr.toString()}`);
}

export interface IssueOptions {
  signer: "test-ca" | "rsa-ca" | "impostor-ca";
  cn: string;
  san: string;
  key?: "ec" | "rsa";
  /** the hash of the certificate's signature */
  digest?: "sha1" | "sha256" | "sha384" | "sha512";
}

/** Three CAs (test-ca and rsa-ca are trusted through `caFile`, impostor-ca is not) and key pairs signed by them. */
export function makeCertificates(): Certificates & { issue(name: string, options: IssueOptions): KeyPair } {
  const dir = mkdtempSync(join(tmpdir(), "tasks-tls-"));
  const path = (name: string) => join(dir, name);
  const newKey = (type: "ec" | "rsa") =>
    type === "ec" ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] : ["-newkey", "rsa:2048"];
  const ca = (name: string, type: "ec" | "rsa") =>
    openssl([
      "req",
      "-x509",
      ...newKey(type),
      "-nodes",
      "-keyout",
      path(`${name}.key`),
      "-out",
      path(`${name}.crt`),
      "-days",
      "1",
      "-subj",
      `/CN=${name}`,
    ]);
  const issue = (name: string, { signer, cn, san, key = "ec", digest = "sha256" }: IssueOptions): KeyPair => {
    openssl([
      "req",
      ...newKey(key),
      "-nodes",
      "-keyout",
      path(`${name}.key`),
      "-out",
      path(`${name}.csr`),
      "-subj",
      `/CN=${cn}`,
    ]);
    writeFileSync(path(`${name}.ext`), `subjectAltName=${san}\n`);
    openssl([
      "x509",
      "-req",
      "-in",
      path(`${name}.csr`),
      "-CA",
      path(`${signer}.crt`),
      "-CAkey",
      path(`${signer}.key`),
      "-CAcreateserial",
      "-out",
      path(`${name}.crt`),
      "-days",
      "1",
      `-${digest}`,
      "-extfile",
      path(`${name}.ext`),
    ]);
    return {
      key: readFileSync(path(`${name}.key`), "utf8"),
      cert: readFileSync(path(`${name}.crt`), "utf8"),
      keyFile: path(`${name}.key`),
      certFile: path(`${name}.crt`),
    };
  };
  ca("test-ca", "ec");
  ca("rsa-ca", "rsa");
  ca("impostor-ca", "ec");
  writeFileSync(
    path("trusted.crt"),
    readFileSync(path("test-ca.crt"), "utf8") + readFileSync(path("rsa-ca.crt"), "utf8"),
  );
  const local = "DNS:localhost,IP:127.0.0.1";
  return {
    dir,
    caFile: path("trusted.crt"),
    server: issue("server", { signer: "test-ca", cn: "localhost", san: local }),
    otherName: issue("other-name", { signer: "test-ca", cn: "db.example.com", san: "DNS:db.example.com" }),
    impostor: issue("impostor", { signer: "impostor-ca", cn: "localhost", san: local }),
    issue,
    destroy: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** For startTempCluster's `configure`: ssl = on with this key pair, SCRAM password hashes. */
export function serveTls(data: string, pair: KeyPair) {
  writeFileSync(join(data, "server.crt"), pair.cert);
  writeFileSync(join(data, "server.key"), pair.key, { mode: 0o600 });
  appendFileSync(
    join(data, "postgresql.conf"),
    "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\npassword_encryption = 'scram-sha-256'\n",
  );
}

export interface TlsCluster {
  cluster: TempCluster;
  certs: ReturnType<typeof makeCertificates>;
  /** Makes the server present this certificate to new connections (a reload, awaited). */
  useServerCertificate(pair: KeyPair): Promise<void>;
  /** a SCRAM role and its password */
  user: string;
  password: string;
  /** roles that authenticate with md5 and with trust, over TLS too */
  md5User: string;
  trustUser: string;
  /** a URL for `user` on 127.0.0.1 with these query parameters */
  url(query?: string, { user, port, database }?: { user?: string; port?: number; database?: string }): string;
  destroy(): void;
}

/** ssl = on, SCRAM only over TLS (hostssl), plain TCP rejected; md5 and trust roles for the refusal cases. */
export function startTlsCluster(): TlsCluster {
  const certs = makeCertificates();
  const user = "app";
  const password = `app-pw-${crypto.randomUUID()}`;
  let cluster: TempCluster | undefined;
  try {
    cluster = startTempCluster({
      configure(data) {
        serveTls(data, certs.server);
        writeFileSync(
          join(data, "pg_hba.conf"),
          [
            "local all all scram-sha-256",
            "hostssl all md5user 127.0.0.1/32 md5",
            "hostssl all trustuser 127.0.0.1/32 trust",
            "hostssl all all 127.0.0.1/32 scram-sha-256",
            "host all all 127.0.0.1/32 reject",
            "",
          ].join("\n"),
        );
      },
    });
    cluster.psql(`create role ${user} login password '${password}'`);
    cluster.psql(`create database tasks owner ${user}`);
    cluster.psql(
      `set password_encryption = 'md5'; create role md5user login password '${password}'; create role trustuser login;`,
    );
    const started = cluster;
    return {
      cluster: started,
      certs,
      user,
      password,
      md5User: "md5user",
      trustUser: "trustuser",
      url: (query = "", { user: role = user, port = started.port, database = "tasks" } = {}) =>
        `postgres://${role}:${password}@127.0.0.1:${port}/${database}${query}`,
      async useServerCertificate(pair) {
        writeFileSync(join(started.dir, "data", "server.crt"), pair.cert);
        writeFileSync(join(started.dir, "data", "server.key"), pair.key);
        started.psql("select pg_reload_conf()");
        // The postmaster reloads asynchronously: wait until a fresh handshake shows the new certificate.
        const wanted = new X509Certificate(pair.cert).raw;
        for (const deadline = performance.now() + 10_000; performance.now() < deadline; await Bun.sleep(20)) {
          const socket = await connectTls("127.0.0.1", started.port);
          const presented = socket.getPeerCertificate().raw;
          socket.destroy();
          if (presented.equals(wanted)) return;
        }
        throw new Error(`the server did not load the new certificate; see ${join(started.dir, "log")}`);
      },
      destroy() {
        started.destroy();
        certs.destroy();
      },
    };
  } catch (error) {
    cluster?.destroy();
    certs.destroy();
    throw error;
  }
}
