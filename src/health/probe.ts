// `tasks-api healthcheck`: what a container runtime runs every few seconds. GET /health/ready on the
// local port; true on 200. Readiness, not liveness: compose's `service_healthy` then means "serves
// requests". Imports nothing, so the executable's entry can run it without loading the service.
export async function probeReadiness(port: number, timeoutMs = 3000): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.status === 200;
  } catch {
    return false;
  }
}
