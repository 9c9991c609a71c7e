/**
 * What the app keeps of each request from its arrival to its answer: the fields of its log line, and
 * what must run once its answer is built (a fair-share slot's release). The app's `wrap` around every
 * route and the not-found handler makes it when the request arrives and settles it as the answer is
 * built (`createApp` in src/app.ts), with no onRequest and no onAfterResponse hook: Elysia runs
 * after-response hooks in a setImmediate of their own (one more turn of the event loop per request),
 * and any onRequest hook makes it build a larger context for every request. Both were measured in
 * instructions per GET served (`bun run bench:instructions`; docs/benchmarks.md).
 */
export interface RequestState {
  id: string;
  start: number;
  /** The URL's path, as Elysia's context has it (no query). */
  path: string;
  /** X-Request-Id is in Elysia's headers of the answer already (the transform hook or onError put it there). */
  idInHeaders?: boolean;
  /** The authenticated user, once the auth plugin knows it. */
  userId?: string;
  authFailure?: string;
  client?: string | null;
  /** Runs once the answer is built, errors included. */
  answered?: () => void;
}

/** Keyed by the request object itself, so nothing outlives the request. */
export type RequestStates = WeakMap<Request, RequestState>;
