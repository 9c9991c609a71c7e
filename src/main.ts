// The compiled executable's entry (Dockerfile). `healthcheck` runs every few seconds in a container, so
// it loads only the configuration and the probe: about 7 ms of CPU instead of the 67 ms that loading
// the whole service costs. Every other command is src/index.ts.
import { loadConfig } from "./config";
import { probeReadiness } from "./health/probe";

if (process.argv[2] === "healthcheck") {
  let port: number | undefined;
  try {
    port = loadConfig(process.env).port;
  } catch {} // an invalid configuration: the service is not running either
  process.exit(port !== undefined && (await probeReadiness(port)) ? 0 : 1);
}
await import("./index");
