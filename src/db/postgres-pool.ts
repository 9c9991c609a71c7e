// postgres.js behind the guard's deadline: each admitted piece of work knows its statements, so that
// abandoning it cancels them on the server, and a pool that stops answering is closed before another opens.
import { AsyncLocalStorage } from "node:async_hooks";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import type { DatabaseLimits } from "../config";
import { DatabaseStuckError } from "../errors";
import type { Deadline, TrackedWork } from "./admission";
import * as schema from "./schema";

type Query = ReturnType<postgres.Sql["unsafe"]>;
// begin() and savepoint() take optional options, then the callback: (...options, fn).
type WithCallback = (...args: unknown[]) => Promise<unknown>;
type Callback = (tx: postgres.TransactionSql) => unknown;

interface Scope {
  /** Its statements that have not settled yet. */
  queries: Set<Query>;
  abandoned: boolean;
  /** The pool its statements went to. */
  pool: postgres.Sql | undefined;
}

const scopes = new AsyncLocalStorage<Scope>();

// postgres.js's query.cancel() drops the promise of the CancelRequest it sends: a cancel that cannot be
// delivered (the server is gone) would surface as an unhandled rejection, and nobody could tell whether
// the server got it. Call the same canceller and keep its promise, which settles once the server has
// processed the request (for a statement still queued behind another on its connection: once it was
// sent, when that statement becomes the running one). Remove when query.cancel() returns that promise.
function cancel(query: Query): Promise<void> {
  const canceller = (query as unknown as { canceller?: (q: unknown) => Promise<void> | undefined }).canceller;
  if (typeof canceller !== "function") return Promise.resolve(void query.cancel());
  return canceller(query) ?? Promise.resolve();
}

function issue(
  sql: Pick<postgres.Sql, "unsafe">,
  scope: Scope | undefined,
  pool: postgres.Sql,
  args: Parameters<postgres.Sql["unsafe"]>,
) {
  if (scope?.abandoned) throw new DatabaseStuckError(0);
  const query = sql.unsafe(...args);
  if (scope) {
    scope.pool ??= pool;
    scope.queries.add(query);
    // then() starts the query after a microtask, so drizzle's .values() on it still applies.
    const settled = () => void scope.queries.delete(query);
    query.then(settled, settled);
  }
  return query;
}

// What drizzle uses of a transaction's handle: unsafe() for statements and savepoint() for nested ones.
function transactionView(
  tx: postgres.TransactionSql,
  scope: Scope | undefined,
  pool: postgres.Sql,
): postgres.TransactionSql {
  return new Proxy(tx, {
    get(target, name, receiver) {
      if (name === "unsafe") return (...args: Parameters<postgres.Sql["unsafe"]>) => issue(target, scope, pool, args);
      if (name === "savepoint")
        return (...args: unknown[]) => {
          const fn = args.pop() as Callback;
          return (target.savepoint as unknown as WithCallback)(...args, (sp: postgres.TransactionSql) =>
            fn(transactionView(sp, scope, pool)),
          );
        };
      return Reflect.get(target, name, receiver);
    },
  });
}

/**
 * One admitted piece of work and its statements: one object per request, with its methods on the
 * prototype rather than a closure each (this is on every request's path).
 */
class Tracked<T> implements Scope, TrackedWork<T> {
  queries = new Set<Query>();
  abandoned = false;
  pool: postgres.Sql | undefined;
  done: Promise<T>;

  constructor(
    private readonly work: () => Promise<T>,
    private readonly current: () => postgres.Sql,
    private readonly replace: (stuck: postgres.Sql) => Promise<void>,
  ) {
    this.done = scopes.run(this, work);
  }

  again(): Promise<T> {
    return scopes.run(this, this.work);
  }

  abandon(): Promise<void> {
    this.abandoned = true;
    return Promise.all([...this.queries].map(cancel)).then(() => {});
  }

  reclaim(): Promise<void> {
    return this.replace(this.pool ?? this.current());
  }
}

export interface TrackedPool {
  /** Stands in for a postgres.js client towards drizzle; always the current pool. */
  facade: postgres.Sql;
  deadline: Deadline;
  ping(): Promise<unknown>;
  close(): Promise<void>;
}

export function openTrackedPool(
  options: postgres.Options<Record<string, postgres.PostgresType>>,
  limits: DatabaseLimits,
): TrackedPool {
  // drizzle() installs its type parsers on the client it is given, so every pool goes through it.
  const open = () => {
    const pool = postgres(options);
    drizzlePostgres(pool, { schema });
    return pool;
  };
  let pool = open();
  const closing = new WeakMap<postgres.Sql, Promise<void>>();

  // postgres.js on Bun can leave a query pending forever after its connection was killed, and a frozen
  // server never answers the cancel. Close that pool's connections first, then move to a fresh pool, so
  // the service never holds more than DB_POOL_MAX connections. Work still on the old pool fails with
  // CONNECTION_ENDED or CONNECTION_DESTROYED meanwhile (a 503).
  const replace = (stuck: postgres.Sql): Promise<void> => {
    const known = closing.get(stuck);
    if (known) return known;
    const closed = Promise.race([
      stuck.end({ timeout: 0 }).catch(() => {}),
      new Promise<void>((resolve) => setTimeout(resolve, limits.connectTimeoutMs)),
    ]).then(() => {
      if (pool === stuck) pool = open();
    });
    closing.set(stuck, closed);
    return closed;
  };

  const facade = {
    unsafe: (...args: Parameters<postgres.Sql["unsafe"]>) => issue(pool, scopes.getStore(), pool, args),
    begin: (...args: unknown[]) => {
      const scope = scopes.getStore();
      if (scope?.abandoned) throw new DatabaseStuckError(0);
      const current = pool;
      if (scope) scope.pool ??= current;
      const fn = args.pop() as Callback;
      return (current.begin as unknown as WithCallback)(...args, (tx: postgres.TransactionSql) =>
        fn(transactionView(tx, scope, current)),
      );
    },
    get options() {
      return pool.options;
    },
  } as unknown as postgres.Sql;

  const current = () => pool;
  const deadline: Deadline = {
    ms: limits.statementTimeoutMs,
    graceMs: limits.connectTimeoutMs,
    track: (work) => new Tracked(work, current, replace),
  };

  return {
    facade,
    deadline,
    ping: () => facade.unsafe("select 1"),
    close: () => pool.end({ timeout: 5 }),
  };
}
