/**
 * Slows down a user who keeps sending requests after being refused: once a user has been refused
 * `after` times in a row, each further refusal is answered `holdMs` later instead of at once. A client
 * in a closed loop (send, read the 429, send again) then gets about one 429 per connection and
 * `holdMs`, not thousands a second, so refusing it stops costing the CPU everybody else needs. The
 * hold is never longer than a second, the least Retry-After ever says, so a client that waits as told
 * loses nothing. Nothing runs meanwhile: the request was refused before anything else.
 *
 * Bounded: at most `perUser` requests of one user and `maxHeld` in all are held at once; past either,
 * a refusal is answered at once, as without the tarpit. A held request is a timer and the request the
 * server holds anyway; the count per user is dropped when its last held request is answered.
 */
export interface TarpitOptions {
  holdMs: number;
  /** Refusals in a row before the next ones are held. */
  after?: number;
  perUser?: number;
  maxHeld?: number;
}

export const TARPIT_AFTER = 10;
export const TARPIT_PER_USER = 64;
export const TARPIT_MAX_HELD = 4096;

export class Tarpit {
  readonly after: number;
  readonly perUser: number;
  readonly maxHeld: number;
  private readonly users = new Map<string, number>();
  private total = 0;

  constructor(readonly options: TarpitOptions) {
    this.after = options.after ?? TARPIT_AFTER;
    this.perUser = options.perUser ?? TARPIT_PER_USER;
    this.maxHeld = options.maxHeld ?? TARPIT_MAX_HELD;
  }

  /** Requests held right now, in all. */
  get held() {
    return this.total;
  }

  /** Users with a request held right now. */
  get size() {
    return this.users.size;
  }

  /** A promise to await before answering the refusal, or undefined to answer it at once. */
  hold(key: string, strikes: number): Promise<void> | undefined {
    if (strikes <= this.after || this.total >= this.maxHeld) return undefined;
    const mine = this.users.get(key) ?? 0;
    if (mine >= this.perUser) return undefined;
    this.users.set(key, mine + 1);
    this.total++;
    return new Promise((resolve) =>
      setTimeout(() => {
        this.total--;
        const left = (this.users.get(key) ?? 1) - 1;
        if (left === 0) this.users.delete(key);
        else this.users.set(key, left);
        resolve();
      }, this.options.holdMs),
    );
  }
}
