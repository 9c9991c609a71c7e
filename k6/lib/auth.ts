// Bearer tokens for the load tests.
//
// Two modes, chosen once at init:
//  - TOKENS=<jwt>,<jwt>,...  ready-made tokens (e.g. for a JWKS/EdDSA setup);
//    VU n uses TOKENS[(n-1) % count]. Takes precedence when set.
//  - BETTER_AUTH_SECRET=<secret>  HS256 JWTs minted here, one user per VU:
//    sub = k6-user-<vu>-<runId>.
// Neither set: the script fails in the init context with a clear message.
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import { envNum, envStr } from './config.ts';

const SECRET = envStr('BETTER_AUTH_SECRET', '');
const TOKENS = envStr('TOKENS', '')
  .split(',')
  .map((t) => t.trim())
  .filter((t) => t.length > 0);

/** Lifetime of minted tokens; they are re-minted before they expire. */
const TOKEN_TTL_S = envNum('TOKEN_TTL_SECONDS', 3600);
/** Optional claims, only added when the service verifies them. */
const ISSUER = envStr('JWT_ISSUER', '');
const AUDIENCE = envStr('JWT_AUDIENCE', '');

if (TOKENS.length === 0 && SECRET === '') {
  throw new Error(
    'k6 auth: set BETTER_AUTH_SECRET (HS256 secret shared with the service; tokens are minted ' +
      'per VU) or TOKENS (comma-separated ready-made bearer tokens).',
  );
}

export type AuthMode = 'tokens' | 'mint';
export const AUTH_MODE: AuthMode = TOKENS.length > 0 ? 'tokens' : 'mint';

/** base64url without padding (RFC 7515 §2), of a UTF-8 string or raw bytes. */
export function b64url(input: string | ArrayBuffer): string {
  return encoding.b64encode(input, 'rawurl');
}

/** Compact HS256 JWS: b64url(header).b64url(claims).b64url(HMAC-SHA256(secret, signingInput)). */
export function signHs256(claims: Record<string, string | number>, secret: string | ArrayBuffer): string {
  const signingInput = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  const signature = crypto.hmac('sha256', secret, signingInput, 'binary');
  return `${signingInput}.${b64url(signature)}`;
}

interface Minted {
  token: string;
  exp: number;
}
// Module state is per VU: every VU has its own JS runtime.
const minted: Record<string, Minted> = {};

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Token for a `sub`, minted with BETTER_AUTH_SECRET and cached until 60s before expiry. */
export function tokenForSub(sub: string): string {
  const now = nowSeconds();
  const hit = minted[sub];
  if (hit !== undefined && hit.exp - 60 > now) return hit.token;
  const claims: Record<string, string | number> = { sub, iat: now, exp: now + TOKEN_TTL_S };
  if (ISSUER !== '') claims['iss'] = ISSUER;
  if (AUDIENCE !== '') claims['aud'] = AUDIENCE;
  const fresh = { token: signHs256(claims, SECRET), exp: now + TOKEN_TTL_S };
  minted[sub] = fresh;
  return fresh.token;
}

export function userSub(vuId: number, runId: string): string {
  return `k6-user-${vuId}-${runId}`;
}

/** The bearer token of VU `vuId` (1-based). */
export function tokenForVu(vuId: number, runId: string): string {
  if (AUTH_MODE === 'tokens') {
    return TOKENS[(Math.max(vuId, 1) - 1) % TOKENS.length] as string;
  }
  return tokenForSub(userSub(vuId, runId));
}

/**
 * A token of a different user than `tokenForVu(vuId)`, or null when that is
 * impossible (TOKENS mode with fewer than two tokens).
 */
export function otherUserToken(vuId: number, runId: string): string | null {
  if (AUTH_MODE === 'tokens') {
    return TOKENS.length < 2 ? null : (TOKENS[Math.max(vuId, 1) % TOKENS.length] as string);
  }
  return tokenForSub(`${userSub(vuId, runId)}-other`);
}

/** Well-formed HS256 token signed with a random key: every verifier must reject it. */
export function forgedToken(): string {
  const now = nowSeconds();
  return signHs256({ sub: 'k6-forged', iat: now, exp: now + 300 }, crypto.randomBytes(32));
}

/**
 * How many distinct users `vuCount` VUs act as: one per VU when minting,
 * at most the number of tokens otherwise.
 */
export function distinctUsers(vuCount: number): number {
  return AUTH_MODE === 'tokens' ? Math.min(vuCount, TOKENS.length) : vuCount;
}

/** Run id shared by all VUs: RUN_ID, or generated in setup() and passed on. */
export function newRunId(): string {
  const fromEnv = envStr('RUN_ID', '');
  if (fromEnv !== '') return fromEnv;
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4)
    .toString(36)
    .padStart(4, '0')}`;
}
