import { SignJWT } from "jose";

/** An HS256 token like one a frontend's server code signs with BETTER_AUTH_SECRET. */
export function signDevToken(
  secret: string,
  sub: string,
  {
    ttlSeconds = 3600,
    issuer,
    audience,
  }: { ttlSeconds?: number; issuer?: string | undefined; audience?: string | undefined } = {},
) {
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds);
  if (issuer) jwt = jwt.setIssuer(issuer);
  if (audience) jwt = jwt.setAudience(audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

/** "90", "90s", "15m", "1h", "7d" to seconds; undefined when malformed. */
export function parseTtl(raw: string): number | undefined {
  const match = /^(\d+)([smhd]?)$/.exec(raw.trim());
  if (!match) return undefined;
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as "" | "s" | "m" | "h" | "d"];
  const seconds = Number(match[1]) * unit;
  return seconds > 0 ? seconds : undefined;
}
