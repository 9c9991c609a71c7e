import {
  type CryptoKey,
  decodeProtectedHeader,
  importJWK,
  type JWK,
  jwtVerify,
  type ProtectedHeaderParameters,
} from "jose";
import { AuthError, HttpError } from "../errors";
import type { Logger } from "../logger";
import { assertTokenShape, at, type Clock, type TokenVerifier, toAuthError, userIdOf, verifyOptions } from "./verifier";

/** What Better Auth's jwt plugin can sign with; HS256 never comes from a JWKS. */
export const ASYMMETRIC_ALGS = new Set(["EdDSA", "ES256", "ES512", "RS256", "PS256"]);

// Which algorithms a key of each type may verify, so a token cannot pick an algorithm its key was
// not made for.
const ALGS_FOR_KEY: Record<string, string[]> = {
  "OKP:Ed25519": ["EdDSA"],
  "EC:P-256": ["ES256"],
  "EC:P-521": ["ES512"],
  "RSA:": ["RS256", "PS256"],
};

/** A key set is a few keys of a few hundred bytes; anything near this is not a JWKS. */
export const MAX_JWKS_BYTES = 1024 * 1024;
export const DEFAULT_JWKS_MAX_AGE_MS = 300_000;

export interface JwksOptions {
  url: string;
  issuer?: string | undefined;
  audience?: string | undefined;
  logger: Logger;
  /** Abort a key fetch after this long. */
  timeoutMs?: number;
  /** Minimum time between two fetches, whatever caused them, so hostile tokens cannot hammer Better Auth. */
  cooldownMs?: number;
  /** Keys are refetched at least this often, so a key the issuer deleted stops verifying. */
  maxAgeMs?: number;
  maxBytes?: number;
  /** The wall clock for key ages and token expiry. */
  now?: Clock;
}

export const authUnavailable = () => new HttpError(503, "Authentication unavailable", { "retry-after": "5" });

/** Reads a body as text, refusing it as soon as it passes `max` bytes (never buffers more). */
async function boundedText(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? 0);
  if (declared > max) throw new Error(`JWKS is larger than ${max} bytes`);
  const reader = res.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new Error(`JWKS is larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/**
 * Verifies Better Auth's asymmetric tokens with keys from its JWKS endpoint, cached by kid.
 * Every fetch, whatever caused it (no key yet, an unknown kid, keys past their max age, the last
 * fetch failed), waits out the cooldown since the previous one, and only one is in flight at a time.
 */
export function jwksVerifier({
  url,
  issuer,
  audience,
  logger,
  timeoutMs = 3000,
  cooldownMs = 10_000,
  maxAgeMs = DEFAULT_JWKS_MAX_AGE_MS,
  maxBytes = MAX_JWKS_BYTES,
  now = Date.now,
}: JwksOptions): TokenVerifier & { refresh(): Promise<void> } {
  let jwks: Map<string, JWK> | undefined; // undefined until a fetch succeeded
  let fetchedAt = 0;
  const imported = new Map<string, CryptoKey>(); // by `${kid}:${alg}`
  let lastAttempt = -Infinity;
  let inflight: Promise<void> | undefined;

  const fetchKeys = async () => {
    lastAttempt = now();
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`JWKS answered HTTP ${res.status}`);
      }
      const body = JSON.parse(await boundedText(res, maxBytes)) as { keys?: JWK[] };
      if (!Array.isArray(body?.keys)) throw new Error("JWKS has no keys array");
      jwks = new Map(body.keys.filter((k) => typeof k?.kid === "string").map((k) => [k.kid!, k]));
      fetchedAt = now();
      imported.clear();
    } catch (error) {
      // Logged here, once per attempt (at most one per cooldown), not once per request.
      logger.error(
        jwks ? "JWKS refetch failed; keeping the cached keys" : "cannot fetch the JWKS and no key is cached",
        { url, reason: (error as Error)?.message ?? String(error) },
      );
      throw error;
    }
  };

  // Concurrent callers share one fetch; none starts within the cooldown of the last one.
  const refresh = () => (inflight ??= fetchKeys().finally(() => (inflight = undefined)));
  const mayFetch = () => now() - lastAttempt >= cooldownMs;
  const stale = () => jwks !== undefined && now() - fetchedAt >= maxAgeMs;

  /** Fetches when the keys need it and the cooldown allows; a failure keeps what is cached. */
  const update = async (wanted: string | undefined) => {
    const needed = jwks === undefined || stale() || (wanted !== undefined && !jwks.has(wanted));
    if (inflight) await inflight.catch(() => {});
    else if (needed && mayFetch()) await refresh().catch(() => {});
  };

  const keyFor = async (kid: string | undefined, alg: string): Promise<CryptoKey> => {
    await update(kid);
    if (jwks === undefined) throw authUnavailable();
    const jwk = kid === undefined ? undefined : jwks.get(kid);
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
    /** For the verified-token cache: is this token's key still published (after a due refresh)? */
    async trusts(kid) {
      if (kid === undefined) return true;
      if (stale() || inflight) await update(undefined);
      return jwks?.has(kid) ?? false;
    },
    async verify(token) {
      assertTokenShape(token);
      let header: ProtectedHeaderParameters;
      try {
        header = decodeProtectedHeader(token);
      } catch (error) {
        throw toAuthError(error);
      }
      const alg = header.alg ?? "";
      if (!ASYMMETRIC_ALGS.has(alg)) throw new AuthError("Invalid token", `alg ${alg} is not accepted`);
      const key = await keyFor(header.kid, alg);
      try {
        const { payload } = await jwtVerify(token, key, at(verifyOptions([alg], { issuer, audience }), now));
        return { userId: userIdOf(payload, now()), exp: payload.exp!, kid: header.kid };
      } catch (error) {
        throw toAuthError(error);
      }
    },
  };
}
