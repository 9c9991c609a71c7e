import { Elysia } from "elysia";
import { elysiaConfig } from "../elysia-config";
import { AuthError } from "../errors";
import type { TokenVerifier } from "./verifier";

// One verification per request, whichever asks first: the body parser (so an unauthenticated body is
// never read) or the plugin's derive (requests without a body).
const outcomes = new WeakMap<Request, Promise<{ userId: string }>>();

/** The request's bearer token, verified once; throws AuthError. */
export function authenticate(verifier: TokenVerifier, request: Request): Promise<{ userId: string }> {
  let outcome = outcomes.get(request);
  if (!outcome) {
    outcome = (async () => {
      const header = request.headers.get("authorization");
      if (!header) throw new AuthError("Not authenticated", "no Authorization header");
      const match = /^Bearer +(\S+) *$/i.exec(header);
      if (!match) throw new AuthError("Not authenticated", "Authorization header is not a Bearer token");
      const { userId } = await verifier.verify(match[1]!);
      return { userId };
    })();
    outcomes.set(request, outcome);
  }
  return outcome;
}

/** Routes registered after `.use(authPlugin(...))` require a bearer token and receive `userId`. */
export function authPlugin(verifier: TokenVerifier) {
  // derive, not resolve: it runs before validation, so a caller without a valid token learns nothing
  // about the route's inputs. The raw header, because a route's `headers` schema strips unknown ones.
  return new Elysia({ ...elysiaConfig, name: "auth", seed: verifier }).derive({ as: "scoped" }, ({ request }) =>
    authenticate(verifier, request),
  );
}
