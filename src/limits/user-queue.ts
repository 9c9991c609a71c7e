/**
 * At most `limit` requests of one user are worked on at once; the rest wait in that user's own FIFO
 * queue, so a user's burst queues behind itself and never ahead of anybody else. A waiter that is not
 * admitted within `queueTimeoutMs` is refused (the caller answers 429). Users with nothing running and
 * nothing waiting are dropped from the table, so it holds only users with requests in flight.
 */
export class QueueTimeoutError extends Error {
  constructor(readonly waitedMs: number) {
    super("per-user queue timeout");
  }
}

interface Waiter {
  admit: () => void;
  timer: ReturnType<typeof setTimeout>;
}
interface UserSlots {
  active: number;
  queue: Waiter[];
}

export class UserQueue {
  private readonly users = new Map<string, UserSlots>();

  constructor(
    readonly limit: number,
    readonly queueTimeoutMs: number,
  ) {}

  /** Users with a request running or waiting. */
  get size() {
    return this.users.size;
  }

  running(key: string) {
    return this.users.get(key)?.active ?? 0;
  }

  /**
   * Resolves with a release function once the request may run (it must be called exactly once; more
   * calls do nothing), or rejects with QueueTimeoutError.
   */
  acquire(key: string): Promise<() => void> | (() => void) {
    let slots = this.users.get(key);
    if (!slots) {
      slots = { active: 0, queue: [] };
      this.users.set(key, slots);
    }
    if (slots.active < this.limit) {
      slots.active++;
      return this.releaser(key, slots);
    }
    const user = slots;
    const since = performance.now();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        // The slot passes straight from the finished request to the waiter: active stays the same.
        admit: () => {
          clearTimeout(waiter.timer);
          resolve(this.releaser(key, user));
        },
        timer: setTimeout(() => {
          user.queue.splice(user.queue.indexOf(waiter), 1);
          this.forgetIfIdle(key, user);
          reject(new QueueTimeoutError(Math.round(performance.now() - since)));
        }, this.queueTimeoutMs),
      };
      user.queue.push(waiter);
    });
  }

  private releaser(key: string, slots: UserSlots) {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = slots.queue.shift();
      if (next) return next.admit();
      slots.active--;
      this.forgetIfIdle(key, slots);
    };
  }

  private forgetIfIdle(key: string, slots: UserSlots) {
    if (slots.active === 0 && slots.queue.length === 0 && this.users.get(key) === slots) this.users.delete(key);
  }
}
