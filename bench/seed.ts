// The benchmark's data: users with tokens, their tasks (created through the API), and pools of
// throw-away tasks for DELETE (inserted with SQL, one contiguous id range per user).
import { SignJWT } from "jose";
import type postgres from "postgres";

export interface BenchUser {
  userId: string;
  token: string;
  ids: number[];
  delLo: number;
}
export interface BenchData {
  users: BenchUser[];
}

export async function makeUsers(secret: string, count: number): Promise<BenchUser[]> {
  const key = new TextEncoder().encode(secret);
  const now = Math.floor(Date.now() / 1000);
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const userId = `bench-user-${i}`;
      const token = await new SignJWT({ sub: userId, iat: now })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setExpirationTime(now + 6 * 3600)
        .sign(key);
      return { userId, token, ids: [], delLo: 0 };
    }),
  );
}

/** POSTs `perUser` tasks for every user, 20 requests at a time; fails on anything but a 201. */
export async function seedTasks(baseUrl: string, users: BenchUser[], perUser: number) {
  const jobs = users.flatMap((u) => Array.from({ length: perUser }, (_, i) => ({ u, i })));
  let next = 0;
  const worker = async () => {
    for (let job = jobs[next++]; job; job = jobs[next++]) {
      const res = await fetch(`${baseUrl}/api/tasks`, {
        method: "POST",
        headers: { authorization: `Bearer ${job.u.token}`, "content-type": "application/json" },
        body: JSON.stringify({
          title: `task ${job.i} of ${job.u.userId}`,
          description: job.i % 2 ? null : "seeded by the benchmark",
        }),
      });
      if (res.status !== 201) throw new Error(`seeding: POST /api/tasks answered ${res.status}: ${await res.text()}`);
      job.u.ids.push(((await res.json()) as { id: number }).id);
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
}

/** Back to the seeded state: drops every task created or pooled since, so each scenario starts alike. */
export async function resetTasks(sql: postgres.Sql, users: BenchUser[]) {
  const maxSeeded = Math.max(...users.flatMap((u) => u.ids));
  await sql`delete from tasks where id > ${maxSeeded}`;
  await sql`delete from idempotency_keys`;
  await sql`vacuum analyze tasks`;
  await sql`vacuum analyze idempotency_keys`;
}

/** `perUser` tasks per user with consecutive ids, recorded as each user's delLo. */
export async function seedDeletePool(sql: postgres.Sql, users: BenchUser[], perUser: number) {
  for (const u of users) {
    const [row] = await sql<{ lo: string }[]>`
      with ins as (
        insert into tasks (title, user_id) select 'to delete', ${u.userId} from generate_series(1, ${perUser})
        returning id
      ) select min(id) as lo from ins`;
    u.delLo = Number(row!.lo);
  }
  await sql`vacuum analyze tasks`;
}

/** The data for wrk's Lua script (bench/tasks.lua) and for bench/db-ceiling.ts. */
export async function writeData(dir: string, users: BenchUser[]) {
  const lua = users.map((u) => `{ token = "${u.token}", ids = { ${u.ids.join(", ")} }, del_lo = ${u.delLo} }`);
  await Bun.write(`${dir}/data.lua`, `return { users = {\n${lua.join(",\n")}\n} }\n`);
  await Bun.write(`${dir}/data.json`, JSON.stringify({ users } satisfies BenchData));
}
