import { decodeProtectedHeader } from "jose";
import type { AuthConfig } from "../config";
import { AuthError } from "../errors";
import type { Logger } from "../logger";
import { ASYMMETRIC_ALGS, jwksVerifier } from "./jwks";
import { type Clock, hs256Verifier, type TokenVerifier, toAuthError } from "./verifier";

/**
 * The verifier the configuration asks for. The token header's `alg` picks the path: HS256 only when a
 * secret is configured, the asymmetric algorithms only when a JWKS is; anything else is a 401.
 */
export function verifierFromConfig(
  auth: AuthConfig,
  logger: Logger,
  clock: Clock = Date.now,
): TokenVerifier & { prefetch(): Promise<void> } {
  const hs256 = auth.secret
    ? hs256Verifier(auth.secret, { issuer: auth.issuer, audience: auth.audience }, clock)
    : undefined;
  const jwksUrl = auth.jwksUrl ?? (auth.betterAuthUrl ? `${auth.betterAuthUrl}/api/auth/jwks` : undefined);
  // Better Auth puts its base URL's origin in both iss and aud unless told otherwise.
  const betterAuthOrigin = auth.betterAuthUrl ? new URL(auth.betterAuthUrl).origin : undefined;
  const jwks = jwksUrl
    ? jwksVerifier({
        url: jwksUrl,
        issuer: auth.issuer ?? betterAuthOrigin,
        audience: auth.audience ?? betterAuthOrigin,
        logger,
        now: clock,
        ...(auth.jwksMaxAgeMs !== undefined ? { maxAgeMs: auth.jwksMaxAgeMs } : {}),
      })
    : undefined;

  return {
    trusts: async (kid) => (jwks ? jwks.trusts!(kid) : true),
    async prefetch() {
      await jwks?.refresh().catch(() => {}); // already logged; the first token retries after the cooldown
    },
    async verify(token) {
      let alg: string | undefined;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch (error) {
        throw toAuthError(error);
      }
      if (alg === "HS256" && hs256) return hs256.verify(token);
      if (alg !== undefined && ASYMMETRIC_ALGS.has(alg) && jwks) return jwks.verify(token);
      throw new AuthError("Invalid token", `alg ${alg} is not accepted by this configuration`);
    },
  };
}
