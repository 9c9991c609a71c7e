// `bun bench/verify.ts`: CPU cost of verifying one token on each path, in process (no HTTP, no cache).
// The EdDSA token is shaped like Better Auth's (kid, sub, iss = aud = base URL, 15 minutes), its key
// served from a local JWKS endpoint the way Better Auth serves /api/auth/jwks.
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { verifierFromConfig } from "../src/auth/from-config";
import { signDevToken } from "../src/auth/token";
import { createLogger } from "../src/logger";

const SECRET = "bench-secret-that-is-long-enough-0123456789";
const N = Number(process.argv[2] ?? 5000);

const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
const jwk = { ...(await exportJWK(publicKey)), kid: "bench-key", alg: "EdDSA" };
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ keys: [jwk] }) });
const url = `http://127.0.0.1:${server.port}`;

const verifier = verifierFromConfig(
  {
    secret: SECRET,
    secretGenerated: false,
    betterAuthUrl: url,
    jwksUrl: undefined,
    issuer: undefined,
    audience: undefined,
  },
  createLogger({ level: "error" }, () => {}),
);
const eddsa = await new SignJWT({ sub: "bench-user", id: "bench-user", email: "b@example.com", name: "B" })
  .setProtectedHeader({ alg: "EdDSA", kid: "bench-key" })
  .setIssuedAt()
  .setIssuer(url)
  .setAudience(url)
  .setExpirationTime("15m")
  .sign(privateKey);
const hs256 = await signDevToken(SECRET, "bench-user");
await verifier.verify(eddsa); // fetch and import the key once, as the service does at startup

for (const [label, token] of [
  ["HS256 (secret)", hs256],
  ["EdDSA (cached JWKS)", eddsa],
] as const) {
  for (let i = 0; i < 500; i++) await verifier.verify(token); // warm up
  const start = performance.now();
  for (let i = 0; i < N; i++) await verifier.verify(token);
  console.log(`verify ${label}: ${(((performance.now() - start) * 1000) / N).toFixed(1)} µs per token (${N} tokens)`);
}
server.stop(true);
