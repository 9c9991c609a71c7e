import { DatabaseBusyError, DatabaseStuckError } from "../errors";
import { isConnectionLost } from "./sqlstate";

const RETRY_PAUSE_MS = 25;

export interface DbGuard {
  /** Runs a read once admitted; retried once, on a fresh connection, if its connection died under it. */
  read<T>(work: () => Promise<T>): Promise<T>;
  /** Runs a write once admitted; never retried, since it may have committed before the connection died. */
  write<T>(work: () => Promise<T>): Promise<T>;
}

/**
 * A semaphore in front of the pool (DB_POOL_MAX x DB_PIPELINE permits). postgres.js queues without a limit, and a timeout
 * raced against a queued query would answer 503 while the query still ran later (a write the client
 * believes lost). Here a request that waits too long is refused before its work starts.
 *
 * `deadlineMs`: work still unsettled after it is abandoned with a 503 and `onStuck` is called (the
 * pool is replaced). It exceeds statement_timeout, so a server that still runs has cancelled and rolled
 * back the statement by then; only a server frozen mid-statement could still complete it on resuming,
 * like any write whose answer was lost.
 */
export function createGuard({ permits, queueTimeoutMs, deadlineMs, onStuck }: { permits: number; queueTimeoutMs: number; deadlineMs?: number; onStuck?: () => void }): DbGuard {
  let free = permits;
  const waiting: (() => void)[] = [];

  const acquire = (): Promise<void> => {
    if (free > 0 && waiting.length === 0) {
      free--;
      return Promise.resolve();
    }
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

  const withDeadline = <T>(work: Promise<T>): Promise<T> => {
    if (deadlineMs === undefined) return work;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onStuck?.();
        reject(new DatabaseStuckError(deadlineMs));
      }, deadlineMs);
    });
    return Promise.race([work, expired]).finally(() => clearTimeout(timer));
  };

  const admitted = async <T>(work: () => Promise<T>): Promise<T> => {
    await acquire();
    try {
      return await withDeadline(work());
    } finally {
      release();
    }
  };

  return {
    read: (work) => admitted(async () => {
      try {
        return await work();
      } catch (error) {
        if (!isConnectionLost(error)) throw error;
        // Give the driver a moment to see the other sockets the server closed, so the retry gets a live one.
        await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
        return work();
      }
    }),
    write: (work) => admitted(work),
  };
}
