// The app on a PostgreSQL of the test's own (a temp cluster), for suites that stop and start the database.
import { loadConfig } from "../../src/config";
import { openDatabase, type Database } from "../../src/db/client";
import { buildApp, SECRET, type TestApp } from "./app";
import { startTempCluster, type TempCluster } from "./cluster";

export interface ClusterApp {
  cluster: TempCluster;
  database: Database;
  api: TestApp;
}

/** A fresh cluster, migrated, with the app built on a pool of `poolMax` connections. */
export async function startClusterApp(poolMax = 4): Promise<ClusterApp> {
  const cluster = startTempCluster();
  const config = loadConfig({ BETTER_AUTH_SECRET: SECRET, DATABASE_URL: cluster.url, DB_POOL_MAX: String(poolMax) });
  const database = await openDatabase(config.database, config.databaseLimits);
  await database.migrate();
  return { cluster, database, api: await buildApp({ database }) };
}

/** Closes the pool, then removes the cluster; safe when start failed halfway. */
export async function stopClusterApp(started: Partial<ClusterApp>) {
  await started.database?.close();
  started.cluster?.destroy();
}
