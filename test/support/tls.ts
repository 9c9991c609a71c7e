// Real TLS for the tests: certificates made with openssl, and a PostgreSQL of the test's own that only
// accepts TLS with SCRAM (plain TCP is rejected), the way Neon and most managed servers are set up.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTempCluster, type TempCluster } from "./cluster";

export interface KeyPair {
  key: string;
  cert: string;
  /** file paths of the same */
  keyFile: string;
  certFile: string;
}

export interface Certificates {
  dir: string;
  /** the CA file to give as sslrootcert */
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

/** A CA, and key pairs signed by it (or by a second CA), each a P-256 key, valid for a day. */
export function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), "tasks-tls-"));
  const path = (name: string) => join(dir, name);
  const ca = (name: string) => openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path(`${name}.key`), "-out", path(`${name}.crt`), "-days", "1", "-subj", `/CN=${name}`]);
  const pair = (name: string, signer: string, cn: string, san: string): KeyPair => {
    openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path(`${name}.key`), "-out", path(`${name}.csr`), "-subj", `/CN=${cn}`]);
    writeFileSync(path(`${name}.ext`), `subjectAltName=${san}\n`);
    openssl(["x509", "-req", "-in", path(`${name}.csr`), "-CA", path(`${signer}.crt`), "-CAkey", path(`${signer}.key`), "-CAcreateserial", "-out", path(`${name}.crt`), "-days", "1", "-sha256", "-extfile", path(`${name}.ext`)]);
    return { key: readFileSync(path(`${name}.key`), "utf8"), cert: readFileSync(path(`${name}.crt`), "utf8"), keyFile: path(`${name}.key`), certFile: path(`${name}.crt`) };
  };
  ca("test-ca");
  ca("impostor-ca");
  const pairs = {
    server: pair("server", "test-ca", "localhost", "DNS:localhost,IP:127.0.0.1"),
    otherName: pair("other-name", "test-ca", "db.example.com", "DNS:db.example.com"),
    impostor: pair("impostor", "impostor-ca", "localhost", "DNS:localhost,IP:127.0.0.1"),
  };
  return { dir, caFile: path("test-ca.crt"), ...pairs, destroy: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TlsCluster {
  cluster: TempCluster;
  certs: Certificates;
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
        writeFileSync(join(data, "server.crt"), certs.server.cert);
        writeFileSync(join(data, "server.key"), certs.server.key, { mode: 0o600 });
        appendFileSync(join(data, "postgresql.conf"), "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\npassword_encryption = 'scram-sha-256'\n");
        writeFileSync(join(data, "pg_hba.conf"), [
          "local all all scram-sha-256",
          "hostssl all md5user 127.0.0.1/32 md5",
          "hostssl all trustuser 127.0.0.1/32 trust",
          "hostssl all all 127.0.0.1/32 scram-sha-256",
          "host all all 127.0.0.1/32 reject",
          "",
        ].join("\n"));
      },
    });
    cluster.psql(`create role ${user} login password '${password}'`);
    cluster.psql(`create database tasks owner ${user}`);
    cluster.psql(`set password_encryption = 'md5'; create role md5user login password '${password}'; create role trustuser login;`);
    const started = cluster;
    return {
      cluster: started,
      certs,
      user,
      password,
      md5User: "md5user",
      trustUser: "trustuser",
      url: (query = "", { user: role = user, port = started.port, database = "tasks" } = {}) => `postgres://${role}:${password}@127.0.0.1:${port}/${database}${query}`,
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
