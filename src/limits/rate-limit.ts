/**
 * Per-user token buckets, one table per process: `burst` requests at once, refilled at `perMinute`.
 * Headers follow draft-ietf-httpapi-ratelimit-headers (the structured-field syntax of draft 10 on:
 * a quoted policy name with `q`/`w` in RateLimit-Policy, `r`/`t` in RateLimit).
 */
export interface RateLimitOptions {
  perMinute: number;
  burst: number;
  /** Buckets kept at most; past it the table drops full buckets first (a full bucket is the same as none). */
  maxTracked?: number;
  now?: () => number;
}

export interface RateDecision {
  allowed: boolean;
  /** Refusals in a row for this user: since a take last left a whole token in the bucket. */
  strikes: number;
  /** Headers for the answer, allowed or not (Retry-After only when refused). */
  headers: Record<string, string>;
}

interface Bucket {
  tokens: number;
  at: number;
  strikes: number;
}

const POLICY = "per-user";
// How many of the least recently used buckets are looked at for a full one before the oldest is dropped.
const EVICTION_SCAN = 16;

export class RateLimiter {
  readonly perMs: number;
  readonly policyHeader: string;
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxTracked: number;
  private readonly now: () => number;

  constructor(readonly options: RateLimitOptions) {
    this.perMs = options.perMinute / 60_000;
    this.maxTracked = options.maxTracked ?? 100_000;
    this.now = options.now ?? performance.now.bind(performance);
    // Advertised as `burst` per the time it takes to refill a whole burst, rounded up: a client that keeps
    // to it is never refused, whatever it does inside the window.
    const window = Math.max(1, Math.ceil(options.burst / this.perMs / 1000));
    this.policyHeader = `"${POLICY}";q=${options.burst};w=${window}`;
  }

  get size() {
    return this.buckets.size;
  }

  /** Takes one token from `key`'s bucket if it has one. */
  take(key: string): RateDecision {
    const now = this.now();
    const { burst } = this.options;
    let bucket = this.buckets.get(key);
    if (bucket) {
      this.buckets.delete(key); // re-inserted below: Map order is then least recently used first
      bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.at) * this.perMs);
      bucket.at = now;
    } else {
      this.makeRoom(now);
      bucket = { tokens: burst, at: now, strikes: 0 };
    }
    this.buckets.set(key, bucket);

    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    // A client that waits as Retry-After says finds tokens left and is back to no strikes; one that
    // keeps hammering an empty bucket only gets more.
    if (!allowed) bucket.strikes++;
    else if (bucket.tokens >= 1) bucket.strikes = 0;
    const remaining = Math.floor(bucket.tokens);
    // Seconds until the next whole token (the bucket is never full right after a take); a refused
    // request may retry exactly then.
    const next = Math.max(1, Math.ceil((remaining + 1 - bucket.tokens) / this.perMs / 1000));
    const headers: Record<string, string> = {
      "ratelimit-policy": this.policyHeader,
      ratelimit: `"${POLICY}";r=${remaining};t=${next}`,
    };
    if (!allowed) headers["retry-after"] = String(next);
    return { allowed, strikes: bucket.strikes, headers };
  }

  private makeRoom(now: number) {
    if (this.buckets.size < this.maxTracked) return;
    let scanned = 0;
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.perMs >= this.options.burst) {
        this.buckets.delete(key);
        return;
      }
      if (++scanned >= EVICTION_SCAN) break;
    }
    // Nothing full among the oldest: drop the least recently used, whose owner gets a fresh bucket.
    const oldest = this.buckets.keys().next();
    if (!oldest.done) this.buckets.delete(oldest.value);
  }
}
