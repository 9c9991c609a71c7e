import { errors, type JWTPayload, type JWTVerifyOptions, jwtVerify } from "jose";
import { AuthError } from "../errors";

/** Turns a bearer token into the id of the user it speaks for, or throws AuthError. */
export interface TokenVerifier {
  /** `kid`: the key that signed it, when it came from a key set that can change. */
  verify(token: string): Promise<{ userId: string; exp: number; kid?: string | undefined }>;
  /** Whether a token verified earlier with key `kid` may still be trusted (its key still published). */
  trusts?(kid: string | undefined): Promise<boolean>;
  /**
   * The user of a token verified before, without a promise, when nothing is left to ask (src/auth/cache.ts);
   * undefined means: call verify.
   */
  known?(token: string): string | undefined;
}

export const MAX_USER_ID_CHARS = 255;
// The largest NumericDate a JavaScript Date can hold (year 275760); 1e300 is no date at all.
const MAX_NUMERIC_DATE = 8.64e12;

/** Unicode code points, as PostgreSQL counts a varchar's characters. */
export const codePoints = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

// Servers are NTP-synced; a few seconds covers real skew without stretching a 15-minute token.
const CLOCK_TOLERANCE_SECONDS = 5;
const MAX_TOKEN_LENGTH = 8192;

/** Wall-clock milliseconds, as Date.now gives them; tests pass a clock that runs ahead to expire tokens. */
export type Clock = () => number;

/** jose checks exp and nbf against `currentDate`, which it otherwise takes from the system clock. */
export const at = (options: JWTVerifyOptions, clock: Clock): JWTVerifyOptions =>
  clock === Date.now ? options : { ...options, currentDate: new Date(clock()) };

export function verifyOptions(
  algorithms: string[],
  claims: { issuer?: string | undefined; audience?: string | undefined },
): JWTVerifyOptions {
  return {
    algorithms,
    requiredClaims: ["exp"],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    ...(claims.issuer ? { issuer: claims.issuer } : {}),
    ...(claims.audience ? { audience: claims.audience } : {}),
  };
}

/**
 * `sub`, or `user_id` when there is no `sub`: a non-empty, well-formed string of at most 255 code points.
 * Also refuses a token issued in the future (jose checks iat only with maxTokenAge).
 */
export function userIdOf(payload: JWTPayload, nowMs = Date.now()): string {
  if (typeof payload.iat === "number" && payload.iat > nowMs / 1000 + CLOCK_TOLERANCE_SECONDS) {
    throw new AuthError("Invalid token", "iat is in the future");
  }
  if (typeof payload.exp !== "number" || !Number.isFinite(payload.exp) || payload.exp > MAX_NUMERIC_DATE) {
    throw new AuthError("Invalid token", "exp is not a usable NumericDate");
  }
  const id = payload.sub ?? payload.user_id;
  // Lone surrogates would be stored as U+FFFD, so distinct subjects would share one user's tasks.
  if (
    typeof id !== "string" ||
    id.length === 0 ||
    id.length > 2 * MAX_USER_ID_CHARS ||
    codePoints(id) > MAX_USER_ID_CHARS ||
    id.includes("\u0000") ||
    !id.isWellFormed()
  ) {
    throw new AuthError("Invalid token", "no usable sub or user_id claim");
  }
  return id;
}

/** Maps jose's failures onto the contract's two details, keeping the real reason for the log. */
export function toAuthError(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  if (error instanceof errors.JWTExpired) return new AuthError("Token expired", "token expired");
  const code = (error as { code?: string })?.code ?? "unknown";
  return new AuthError("Invalid token", `${code}: ${(error as Error)?.message ?? error}`);
}

export function assertTokenShape(token: string) {
  if (token.length > MAX_TOKEN_LENGTH) throw new AuthError("Invalid token", "token longer than 8 KiB");
}

/** HS256 with the shared secret (tokens signed by the frontend's own server code). */
export function hs256Verifier(
  secret: string,
  claims: { issuer?: string | undefined; audience?: string | undefined },
  clock: Clock = Date.now,
): TokenVerifier {
  const key = new TextEncoder().encode(secret);
  const options = verifyOptions(["HS256"], claims);
  return {
    async verify(token) {
      assertTokenShape(token);
      try {
        const { payload } = await jwtVerify(token, key, at(options, clock));
        return { userId: userIdOf(payload, clock()), exp: payload.exp! };
      } catch (error) {
        throw toAuthError(error);
      }
    },
  };
}
