// Holding a row lock from a second session, so the app's statements on that row wait inside PostgreSQL.
import type postgres from "postgres";

/** Locks the task row until the returned function is called; resolves once the lock is held. */
export async function lockRow(admin: postgres.Sql, id: number): Promise<() => Promise<void>> {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const done = admin.begin(async (tx) => {
    await tx`select id from tasks where id = ${id} for update`;
    locked();
    await held;
  });
  await Promise.race([isLocked, done]);
  return async () => {
    release();
    await done.catch(() => {});
  };
}

/** The app's statements (application_name tasks-api) waiting on a lock, once there are `count` of them. */
export async function waitingOnLocks(admin: postgres.Sql, count: number): Promise<number[]> {
  for (let i = 0; i < 400; i++) {
    const rows =
      await admin`select pid from pg_stat_activity where application_name = 'tasks-api' and wait_event_type = 'Lock'`;
    if (rows.length >= count) return rows.map((r) => r.pid as number);
    await Bun.sleep(25);
  }
  throw new Error(`${count} statements never waited on the lock`);
}
