import { Elysia } from "elysia";
import { elysiaConfig } from "../elysia-config";
import { AuthError } from "../errors";
import type { RequestStates } from "../request-state";
import type { TokenVerifier } from "./verifier";

type Outcome = { userId: string } | Promise<{ userId: string }>;
// The body parser's outcome, for the derive that runs after it.
const parsed = new WeakMap<Request, Outcome>();

/**
 * The request's bearer token, verified before its body is read (so an unauthenticated body is never
 * read); the plugin's derive takes this outcome then. Throws (or rejects with) AuthError.
 */
export function authenticateBeforeBody(verifier: TokenVerifier, request: Request): Outcome {
  const outcome = check(verifier, request);
  parsed.set(request, outcome);
  return outcome;
}

/**
 * The request's bearer token, verified once: the body parser's outcome, or checked now (requests
 * without a body). A token the verifier knows already is answered without a promise.
 */
export function authenticate(verifier: TokenVerifier, request: Request): Outcome {
  return parsed.get(request) ?? check(verifier, request);
}

function check(verifier: TokenVerifier, request: Request): Outcome {
  const header = request.headers.get("authorization");
  if (!header) throw new AuthError("Not authenticated", "no Authorization header");
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (!match) throw new AuthError("Not authenticated", "Authorization header is not a Bearer token");
  const token = match[1]!;
  const userId = verifier.known?.(token);
  if (userId !== undefined) return { userId };
  return verifier.verify(token).then(({ userId }) => ({ userId }));
}

/**
 * Routes registered after `.use(authPlugin(...))` require a bearer token and receive `userId`; the user
 * is noted in `states` too, for the request's log line. `admit` runs first (it throws while the API is
 * closed).
 */
export function authPlugin(verifier: TokenVerifier, states: RequestStates, admit: () => void) {
  const note = (request: Request, outcome: { userId: string }) => {
    const state = states.get(request);
    if (state) state.userId = outcome.userId;
    return outcome;
  };
  // derive, not resolve: it runs before validation, so a caller without a valid token learns nothing
  // about the route's inputs. The raw header, because a route's `headers` schema strips unknown ones.
  return new Elysia({ ...elysiaConfig, name: "auth", seed: verifier }).derive({ as: "scoped" }, ({ request }) => {
    admit();
    const outcome = authenticate(verifier, request);
    return outcome instanceof Promise ? outcome.then((known) => note(request, known)) : note(request, outcome);
  });
}
