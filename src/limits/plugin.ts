import { Elysia } from "elysia";
import type { FairShareConfig } from "../config";
import { elysiaConfig } from "../elysia-config";
import { HttpError } from "../errors";
import type { RequestStates } from "../request-state";
import { RateLimiter } from "./rate-limit";
import { Tarpit } from "./tarpit";
import { QueueTimeoutError, UserQueue } from "./user-queue";

export interface Limits {
  rate: RateLimiter | undefined;
  /** Holds the refusals of a user who keeps sending past the rate limit (only with a rate limit). */
  tarpit: Tarpit | undefined;
  queue: UserQueue | undefined;
}

export function createLimits(config: FairShareConfig, now?: () => number): Limits {
  const on = config.rateLimitPerMinute > 0 && config.rateLimitBurst > 0;
  return {
    rate: on ? new RateLimiter({ perMinute: config.rateLimitPerMinute, burst: config.rateLimitBurst, now }) : undefined,
    tarpit: on && config.rateLimitTarpitMs > 0 ? new Tarpit({ holdMs: config.rateLimitTarpitMs }) : undefined,
    queue: config.userConcurrency > 0 ? new UserQueue(config.userConcurrency, config.userQueueTimeoutMs) : undefined,
  };
}

export const tooManyRequests = (headers: Record<string, string>) => new HttpError(429, "Too many requests", headers);

/**
 * Rate limit (a refusal of a user who keeps hammering held by the tarpit first), then the per-user
 * queue, for every route registered after it; it must come right after
 * the auth plugin, whose `userId` it reads. The slot is held until the answer has been built, errors
 * included (the app runs `answered` of the request's state then), so a user's slow answers count
 * against that user only.
 */
export function fairShare(limits: Limits, states: RequestStates) {
  // Both off: no hooks at all, so the routes' lifecycle has no derive step for it.
  if (!limits.rate && !limits.queue) return new Elysia({ ...elysiaConfig, name: "fair-share", seed: limits });
  return new Elysia({ ...elysiaConfig, name: "fair-share", seed: limits }).derive({ as: "scoped" }, async (context) => {
    const { userId } = context as { userId?: string };
    if (userId === undefined) return {};
    if (limits.rate) {
      const decision = limits.rate.take(userId);
      Object.assign(context.set.headers, decision.headers);
      if (!decision.allowed) {
        const held = limits.tarpit?.hold(userId, decision.strikes);
        if (held) await held;
        throw tooManyRequests({ "retry-after": decision.headers["retry-after"]! });
      }
    }
    if (limits.queue) {
      try {
        const release = await limits.queue.acquire(userId);
        const state = states.get(context.request);
        // The app makes a state for every request; without one nothing would release the slot later.
        if (state) state.answered = release;
        else release();
      } catch (error) {
        if (error instanceof QueueTimeoutError) throw tooManyRequests({ "retry-after": "1" });
        throw error;
      }
    }
    return {};
  });
}
