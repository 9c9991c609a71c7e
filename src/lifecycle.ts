// The process's phase, as load balancers and orchestrators see it through /health/ready and /api/*:
//   starting  listening, but the database is not reachable or migrated yet: /api/* answers 503
//   serving   everything answers
//   draining  SIGTERM received: readiness says 503 so load balancers stop sending, requests still run
export type Phase = "starting" | "serving" | "draining";

export interface Lifecycle {
  readonly phase: Phase;
  serving(): void;
  draining(): void;
}

export function createLifecycle(phase: Phase = "starting"): Lifecycle {
  return {
    get phase() {
      return phase;
    },
    serving() {
      if (phase !== "draining") phase = "serving";
    },
    draining() {
      phase = "draining";
    },
  };
}
