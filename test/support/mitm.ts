// A TLS-terminating man in the middle: it answers PostgreSQL's SSLRequest itself, shows the client its own
// certificate, opens its own TLS connection to the real server, and relays (and reads) everything in between.
import * as net from "node:net";
import * as tls from "node:tls";

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

export interface Mitm {
  port: number;
  /** what clients sent, decrypted: the queries it could read (or change) */
  readonly seen: string;
  /** connections it opened to the real server */
  readonly relayed: number;
  stop(): Promise<void>;
}

/** Asks the server for TLS over a fresh TCP connection, as a PostgreSQL client does. */
export function connectTls(host: string, port: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(port, host, () => raw.write(SSL_REQUEST));
    raw.once("error", reject);
    raw.once("data", (answer) => {
      if (answer[0] !== 0x53) return reject(new Error("the server refused TLS"));
      const secure = tls.connect({
        socket: raw,
        rejectUnauthorized: false,
        servername: net.isIP(host) ? undefined : host,
      });
      secure.once("secureConnect", () => resolve(secure));
      secure.once("error", reject);
    });
  });
}

export function startMitm({
  host,
  port,
  key,
  cert,
}: {
  host: string;
  port: number;
  key: string;
  cert: string;
}): Promise<Mitm> {
  let seen = "";
  let relayed = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    client.once("data", (first: Buffer) => {
      if (!first.subarray(0, 8).equals(SSL_REQUEST)) return client.destroy(); // only TLS clients are of interest here
      client.write("S");
      const secure = new tls.TLSSocket(client, { isServer: true, key, cert });
      secure.on("error", () => client.destroy());
      const early: Buffer[] = [];
      let upstream: tls.TLSSocket | undefined;
      secure.on("data", (chunk: Buffer) => {
        seen += chunk.toString("latin1");
        upstream ? upstream.write(chunk) : early.push(chunk);
      });
      connectTls(host, port).then(
        (socket) => {
          relayed++;
          upstream = socket;
          for (const chunk of early) socket.write(chunk);
          socket.on("error", () => secure.destroy());
          socket.on("data", (chunk: Buffer) => secure.write(chunk));
          socket.on("close", () => secure.destroy());
          secure.on("close", () => socket.destroy());
        },
        () => secure.destroy(),
      );
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        get seen() {
          return seen;
        },
        get relayed() {
          return relayed;
        },
        stop: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
