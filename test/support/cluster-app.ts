// The app on a PostgreSQL of the test's own (a temp cluster), for suites that stop and start the database.
// The app connects as in production: TLS with the certificate verified and SCRAM channel binding required
// (the cluster also takes plain connections, for the suites' own admin clients on `cluster.url`).
import { loadConfig } from "../../src/config";
import { type Database, openDatabase } from "../../src/db/client";
import { buildApp, SECRET, type TestApp } from "./app";
import { startTempCluster, type TempCluster } from "./cluster";
import { type Certificates, makeCertificates, serveTls } from "./tls";

export interface ClusterApp {
  cluster: TempCluster;
  certs: Certificates;
  /** the app's DATABASE_URL: `cluster.url` over verify-full TLS with channel_binding=require */
  url: string;
  database: Database;
  api: TestApp;
}

/** A fresh cluster, migrated, with the app built on a pool of `poolMax` connections. */
export async function startClusterApp(poolMax = 4): Promise<ClusterApp> {
  const certs = makeCertificates();
  let cluster: TempCluster;
  try {
    cluster = startTempCluster({ configure: (data) => serveTls(data, certs.server) });
  } catch (error) {
    certs.destroy();
    throw error;
  }
  const url = `${cluster.url}?sslmode=verify-full&sslrootcert=${encodeURIComponent(certs.caFile)}&channel_binding=require`;
  const config = loadConfig({ BETTER_AUTH_SECRET: SECRET, DATABASE_URL: url, DB_POOL_MAX: String(poolMax) });
  const database = await openDatabase(config.database, config.databaseLimits);
  await database.migrate();
  return { cluster, certs, url, database, api: await buildApp({ database }) };
}

/** Closes the pool, then removes the cluster; safe when start failed halfway. */
export async function stopClusterApp(started: Partial<ClusterApp>) {
  await started.database?.close();
  started.cluster?.destroy();
  started.certs?.destroy();
}
