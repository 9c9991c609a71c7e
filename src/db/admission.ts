import { DatabaseBusyError, DatabaseStuckError, HttpError } from "../errors";
import { isConnectionLost } from "./sqlstate";

// Before a read's retry: a moment for the driver to see the other sockets the server closed, so the
// retry gets a live one.
const RETRY_PAUSE_MS = 25;

export interface DbGuard {
  /** Runs a read once admitted; retried once, on a fresh connection, if its connection died under it. */
  read<T>(work: () => Promise<T>): Promise<T>;
  /** Runs a write once admitted; never retried, since it may have committed before the connection died. */
  write<T>(work: () => Promise<T>): Promise<T>;
}

/** One admitted piece of work as the driver runs it, so that the guard can take it back. */
export interface TrackedWork<T> {
  done: Promise<T>;
  /**
   * Cancels its statements on the server and refuses any it would still start; resolves once the server
   * has processed every cancel, rejects if one could not be delivered. Safe to call again.
   */
  abandon(): Promise<void>;
  /** Closes the connections it may still hold (the server or pooler does not act on cancels). */
  reclaim(): Promise<void>;
  /** Runs the work again under the same tracking (a read's retry); `done` is the caller's to update. */
  again(): Promise<T>;
}

export interface Deadline {
  /** Work still running after this long is cancelled on the server and answered 503 (DB_STATEMENT_TIMEOUT_MS). */
  ms: number;
  /** How long a cancel may take to be processed before the server counts as not answering (DB_CONNECT_TIMEOUT_MS). */
  graceMs: number;
  track<T>(work: () => Promise<T>): TrackedWork<T>;
}

/** After the deadline, how long the answer waits for the cancelled work to settle (well within the 1 s the contract allows). */
const CANCEL_WAIT_MS = 400;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A semaphore in front of the pool (DB_POOL_MAX x DB_PIPELINE permits). postgres.js queues without a
 * limit, and a timeout raced against a queued query would answer 503 while the query still ran later (a
 * write the client believes lost). Here a request that waits too long is refused before its work starts.
 *
 * With a `deadline`, work still running when it passes is cancelled on the server. The answer waits a
 * moment for the cancel to take effect, so a 503 normally means the write was rolled back (work that
 * finished anyway is answered as it finished); only a server that does not answer leaves it unknown, like
 * any write whose answer was lost. The permit stays taken until the abandoned work has really settled:
 * its connection is busy until then, and giving the permit away would overcommit the pool behind a stuck
 * server. A cancel the server processed without effect (it reached the backend between two pipelined
 * statements) is sent again; a server that does not process cancels at all (frozen, or a pooler in front
 * of one that is) gets its connections closed (`reclaim`) before the permit is given back, so the
 * service never holds more than DB_POOL_MAX connections.
 */
export function createGuard({
  permits,
  queueTimeoutMs,
  deadline,
}: {
  permits: number;
  queueTimeoutMs: number;
  deadline?: Deadline;
}): DbGuard {
  let free = permits;
  const waiting: (() => void)[] = [];
  const expiries = new Expiries();

  // Waits for a permit (admitted() takes a free one itself).
  const acquire = (): Promise<void> => {
    const since = performance.now();
    return new Promise((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(grant), 1);
        reject(new DatabaseBusyError(Math.round(performance.now() - since)));
      }, queueTimeoutMs);
      waiting.push(grant);
    });
  };
  // A released permit goes straight to the longest waiter, so newcomers cannot overtake it.
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };

  // The permit of abandoned work comes back once it settled, or once its connections were closed.
  const takeBack = async (tracked: TrackedWork<unknown>, firstCancel: Promise<void>, graceMs: number) => {
    let settled = false;
    const markSettled = () => {
      settled = true;
    };
    const ended = tracked.done.then(markSettled, markSettled);
    let delivery = firstCancel;
    for (;;) {
      const processed = await Promise.race([
        delivery.then(
          () => true,
          () => false,
        ),
        sleep(graceMs).then(() => false),
        ended,
      ]);
      if (settled) break;
      if (!processed) {
        await tracked.reclaim().catch(() => {});
        break;
      }
      await Promise.race([ended, sleep(graceMs)]);
      if (settled) break;
      delivery = tracked.abandon();
    }
    release();
  };

  // One promise per piece of work, settled by whichever comes first, its answer or its deadline (this
  // runs on every request; each promise, closure or timer more is measurable). A read that lost its
  // connection is run again here, under the same deadline and tracking, not in a wrapper around the work.
  const underDeadline = <T>({ ms, graceMs, track }: Deadline, work: () => Promise<T>, retry: boolean): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const tracked = track(work);
      const due = expiries.add(ms, () => afterDeadline(tracked, ms, graceMs).then(resolve, reject));
      const succeed = (value: T) => {
        if (!expiries.remove(due)) return;
        release();
        resolve(value);
      };
      const fail = (error: unknown) => {
        if (!expiries.remove(due)) return;
        release();
        reject(error);
      };
      tracked.done.then(
        succeed,
        retry
          ? (error: unknown) => {
              if (!due.pending || !isConnectionLost(error)) return fail(error);
              // What the deadline waits for from now on: the pause, then the second attempt.
              tracked.done = sleep(RETRY_PAUSE_MS).then(() => tracked.again());
              tracked.done.then(succeed, fail);
            }
          : fail,
      );
    });

  const afterDeadline = async <T>(tracked: TrackedWork<T>, ms: number, graceMs: number): Promise<T> => {
    const cancelled = tracked.abandon();
    cancelled.catch(() => {});
    const late = await Promise.race([
      tracked.done.then(
        (value) => ({ value }),
        (error) => ({ error }),
      ),
      sleep(CANCEL_WAIT_MS).then(() => "pending" as const),
    ]);
    if (late === "pending") void takeBack(tracked as TrackedWork<unknown>, cancelled, graceMs);
    else release();
    if (typeof late === "object" && "value" in late) return late.value;
    // Work that turned the cancel into an answer of its own (a keyed write whose twin still runs: 409) keeps it.
    if (typeof late === "object" && late.error instanceof HttpError && late.error.status < 500) throw late.error;
    throw new DatabaseStuckError(ms);
  };

  // Without a deadline (PGlite), the same retry of a read around the work.
  const run = async <T>(work: () => Promise<T>, retry: boolean): Promise<T> => {
    if (deadline) return underDeadline(deadline, work, retry);
    try {
      try {
        return await work();
      } catch (error) {
        if (!retry || !isConnectionLost(error)) throw error;
        await sleep(RETRY_PAUSE_MS);
        return await work();
      }
    } finally {
      release();
    }
  };
  // A free permit is taken at once, without waiting a turn of the event loop for it.
  const admitted = <T>(work: () => Promise<T>, retry: boolean): Promise<T> => {
    if (free > 0 && waiting.length === 0) {
      free--;
      return run(work, retry);
    }
    return acquire().then(() => run(work, retry));
  };

  return {
    read: (work) => admitted(work, true),
    write: (work) => admitted(work, false),
  };
}

interface Due {
  at: number;
  expire: () => void;
  pending: boolean;
  prev: Due | undefined;
  next: Due | undefined;
}

/**
 * The deadlines of the work in flight, oldest first, behind one timer. Every piece of work under a guard
 * has the same deadline, so the order they started in is the order they expire in: adding is appending,
 * an answer unlinks its entry, and the timer is armed for the oldest entry only, instead of a
 * setTimeout and a clearTimeout per request (measured: GET 46.3k -> 45.5k instructions per request in
 * process, under callgrind).
 */
class Expiries {
  #head: Due | undefined;
  #tail: Due | undefined;
  #armed = false;

  add(ms: number, expire: () => void): Due {
    const due: Due = { at: performance.now() + ms, expire, pending: true, prev: this.#tail, next: undefined };
    if (this.#tail) this.#tail.next = due;
    else this.#head = due;
    this.#tail = due;
    if (!this.#armed) this.#arm(ms);
    return due;
  }

  /** False if the entry had expired already (its `expire` ran or runs). */
  remove(due: Due): boolean {
    if (!due.pending) return false;
    due.pending = false;
    if (due.prev) due.prev.next = due.next;
    else this.#head = due.next;
    if (due.next) due.next.prev = due.prev;
    else this.#tail = due.prev;
    return true;
  }

  #arm(ms: number) {
    this.#armed = true;
    // Unreferenced: work in flight keeps the process alive through its sockets, not through this timer.
    setTimeout(() => this.#fire(), Math.max(0, ms)).unref();
  }

  #fire() {
    this.#armed = false;
    const now = performance.now();
    while (this.#head && this.#head.at <= now) {
      const due = this.#head;
      this.remove(due);
      due.expire();
    }
    if (this.#head) this.#arm(this.#head.at - now);
  }
}
