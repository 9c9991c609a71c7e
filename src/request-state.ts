/**
 * What the app keeps of each request from its arrival to its answer: the fields of its log line, and
 * what must run once its answer is built (a fair-share slot's release). The app's `wrap` around every
 * route and the not-found handler settles it (`createApp` in src/app.ts), not Elysia's onAfterResponse:
 * Elysia runs after-response hooks in a setImmediate of their own, one more turn of the event loop per
 * request, measured at 11-15k of a GET's 126k instructions served (`bun run bench:instructions`).
 */
export interface RequestState {
  id: string;
  start: number;
  /** The URL's path, as Elysia's context has it (no query). */
  path: string;
  /** The authenticated user, once the auth plugin knows it. */
  userId?: string;
  authFailure?: string;
  client?: string | null;
  /** Runs once the answer is built, errors included. */
  answered?: () => void;
}

/** Keyed by the request object itself, so nothing outlives the request. */
export type RequestStates = WeakMap<Request, RequestState>;
