import { decodeProtectedHeader, importJWK, jwtVerify, type CryptoKey, type JWK } from "jose";
import { AuthError, HttpError } from "../errors";
import type { Logger } from "../logger";
import { assertTokenShape, toAuthError, userIdOf, verifyOptions, type TokenVerifier } from "./verifier";

/** What Better Auth's jwt plugin can sign with; HS256 never comes from a JWKS. */
export const ASYMMETRIC_ALGS = new Set(["EdDSA", "ES256", "ES512", "RS256", "PS256"]);

// Which algorithms a key of each type may verify, so a token cannot pick an algorithm its key was
// not made for.
const ALGS_FOR_KEY: Record<string, string[]> = {
  "OKP:Ed25519": ["EdDSA"], "EC:P-256": ["ES256"], "EC:P-521": ["ES512"], "RSA:": ["RS256", "PS256"],
};

export interface JwksOptions {
  url: string;
  issuer?: string | undefined;
  audience?: string | undefined;
  logger: Logger;
  /** Abort a key fetch after this long. */
  timeoutMs?: number;
  /** Minimum time between fetches caused by an unknown kid, so bogus kids cannot hammer Better Auth. */
  cooldownMs?: number;
}

export const authUnavailable = () => new HttpError(503, "Authentication unavailable", { "retry-after": "5" });

/** Verifies Better Auth's asymmetric tokens with keys from its JWKS endpoint, cached by kid. */
export function jwksVerifier({ url, issuer, audience, logger, timeoutMs = 3000, cooldownMs = 10_000 }: JwksOptions): TokenVerifier & { refresh(): Promise<void> } {
  let jwks = new Map<string, JWK>();
  const imported = new Map<string, CryptoKey>(); // by `${kid}:${alg}`
  let lastFetch = 0;
  let inflight: Promise<void> | undefined;

  const fetchKeys = async () => {
    lastFetch = Date.now();
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
    if (!res.ok) throw new Error(`JWKS answered HTTP ${res.status}`);
    const body = (await res.json()) as { keys?: JWK[] };
    if (!Array.isArray(body.keys)) throw new Error("JWKS has no keys array");
    jwks = new Map(body.keys.filter((k) => typeof k.kid === "string").map((k) => [k.kid!, k]));
    imported.clear();
  };

  // Concurrent callers share one fetch.
  const refresh = () => (inflight ??= fetchKeys().finally(() => (inflight = undefined)));

  const keyFor = async (kid: string | undefined, alg: string): Promise<CryptoKey> => {
    const known = () => (kid === undefined ? undefined : jwks.get(kid));
    if (jwks.size === 0 || (!known() && Date.now() - lastFetch >= cooldownMs)) {
      try {
        await refresh();
      } catch (error) {
        const reason = (error as Error)?.message ?? String(error);
        if (jwks.size === 0) {
          logger.error("cannot fetch the JWKS and no key is cached", { url, reason });
          throw authUnavailable();
        }
        logger.warn("JWKS refetch failed; keeping the cached keys", { url, reason });
      }
    }
    const jwk = known();
    if (!jwk) throw new AuthError("Invalid token", kid === undefined ? "token has no kid" : `unknown kid ${kid}`);
    const allowed = ALGS_FOR_KEY[`${jwk.kty}:${jwk.crv ?? ""}`] ?? [];
    if (!allowed.includes(alg) || (jwk.alg !== undefined && jwk.alg !== alg)) {
      throw new AuthError("Invalid token", `alg ${alg} does not match key ${kid}`);
    }
    const cacheKey = `${kid}:${alg}`;
    let key = imported.get(cacheKey);
    if (!key) {
      key = (await importJWK(jwk, alg)) as CryptoKey;
      imported.set(cacheKey, key);
    }
    return key;
  };

  return {
    refresh,
    async verify(token) {
      assertTokenShape(token);
      let header;
      try {
        header = decodeProtectedHeader(token);
      } catch (error) {
        throw toAuthError(error);
      }
      const alg = header.alg ?? "";
      if (!ASYMMETRIC_ALGS.has(alg)) throw new AuthError("Invalid token", `alg ${alg} is not accepted`);
      const key = await keyFor(header.kid, alg);
      try {
        const { payload } = await jwtVerify(token, key, verifyOptions([alg], { issuer, audience }));
        return { userId: userIdOf(payload), exp: payload.exp! };
      } catch (error) {
        throw toAuthError(error);
      }
    },
  };
}
