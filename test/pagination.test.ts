import { beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import type { Database } from "../src/db/client";
import { SORTS } from "../src/tasks/constants";
import { testDatabase } from "./setup";
import { buildApp, newUser, type TestApp } from "./support/app";

let api: TestApp;
let database: Database;
beforeAll(async () => {
  database = await testDatabase();
  api = await buildApp({ database, fairShare: { rateLimitPerMinute: 0, userConcurrency: 0, maxTasksPerUser: 0 } });
}, 30_000);

// Ties, case, accents and digits, so the title sorts meet the collation's order and equal keys.
const TITLES = ["b", "B", "a", "a", "é", "e", "Z", "zz", "ä", "10", "9", "a", "Ω", "b", "task"];
const STATUSES = ["pending", "completed", "in_progress", "pending"] as const;

async function seed(user: string, count: number) {
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await api.as(user, "POST", "/api/tasks", {
      title: TITLES[i % TITLES.length],
      status: STATUSES[i % STATUSES.length],
    });
    expect(res.status).toBe(201);
    ids.push(res.body.id);
  }
  // Timestamps that tie (broken on id) and that differ by a microsecond within one millisecond: a cursor
  // holding a millisecond timestamp would repeat or skip these.
  await database.write((db) =>
    db.execute(sql`
    update tasks set created_at = timestamptz '2026-01-01 00:00:00.000100+00' + (id % 5) * interval '1 microsecond',
      updated_at = timestamptz '2026-01-01 00:00:00.000100+00' + (id % 7) * interval '1 microsecond' + interval '1 second'
    where user_id = ${user}`),
  );
  return ids;
}

type Page = { status: number; body: any; headers: Headers };
const linkOf = (res: Page) => res.headers.get("link")?.match(/^<([^>]+)>; rel="next"$/)?.[1];

/** Follows Link from `first` to the end; the ids in the order they came, and every page's answer. */
async function walk(user: string, first: string) {
  const ids: number[] = [];
  const pages: Page[] = [];
  for (let url: string | undefined = first; url; url = linkOf(pages[pages.length - 1]!)) {
    const res = await api.as(user, "GET", url);
    expect(res.status).toBe(200);
    pages.push(res);
    ids.push(...res.body.map((t: { id: number }) => t.id));
    expect(pages.length).toBeLessThan(100);
  }
  return { ids, pages };
}

describe("GET /api/tasks by cursor", () => {
  const user = newUser("walker");
  let seeded: number[];
  beforeAll(async () => {
    seeded = await seed(user, 26);
  });

  for (const sort of SORTS) {
    for (const status of [undefined, "pending", "completed"]) {
      test(`walking the Link headers with sort=${sort}${status ? ` and status=${status}` : ""} returns every matching task once, in order`, async () => {
        const filter = status ? `status=${status}&` : "";
        const all = await api.as(user, "GET", `/api/tasks?${filter}limit=500&sort=${sort}`);
        expect(all.headers.get("link")).toBeNull();
        const { ids, pages } = await walk(user, `/api/tasks?${filter}limit=4&sort=${sort}`);
        expect(ids).toEqual(all.body.map((t: { id: number }) => t.id));
        expect(new Set(ids).size).toBe(ids.length);
        if (!status) expect([...ids].sort((a, b) => a - b)).toEqual(seeded);
        for (const page of pages) expect(page.headers.get("x-total-count")).toBe(String(all.body.length));
        for (const page of pages.slice(0, -1)) {
          expect(page.body.length).toBe(4);
          expect(linkOf(page)).toMatch(
            new RegExp(`^/api/tasks\\?${filter}limit=4&sort=${sort.replace("-", "\\-")}&cursor=[A-Za-z0-9_-]+$`),
          );
        }
      });
    }
  }

  // Offsets past the middle are read from the other end of the index: every offset, to past the end.
  test("every offset, in every sort and filter, answers that slice of the full list, with a Link unless it is the last page", async () => {
    for (const sort of SORTS) {
      for (const status of [undefined, "completed"]) {
        const filter = status ? `status=${status}&` : "";
        const all = (await api.as(user, "GET", `/api/tasks?${filter}limit=500&sort=${sort}`)).body.map(
          (t: { id: number }) => t.id,
        );
        for (let offset = 0; offset <= all.length + 1; offset++) {
          const page = await api.as(user, "GET", `/api/tasks?${filter}limit=4&offset=${offset}&sort=${sort}`);
          expect({ sort, status, offset, ids: page.body.map((t: { id: number }) => t.id) }).toEqual({
            sort,
            status,
            offset,
            ids: all.slice(offset, offset + 4),
          });
          expect(page.headers.get("x-total-count")).toBe(String(all.length));
          expect(page.headers.has("link")).toBe(offset + 4 < all.length);
        }
      }
    }
  }, 30_000);

  test("an offset page that is not the last carries a Link that continues right after it", async () => {
    const all = await api.as(user, "GET", "/api/tasks?limit=500&sort=title");
    const page = await api.as(user, "GET", "/api/tasks?limit=5&offset=3&sort=title");
    expect(page.body.map((t: { id: number }) => t.id)).toEqual(all.body.slice(3, 8).map((t: { id: number }) => t.id));
    const next = await api.as(user, "GET", linkOf(page)!);
    expect(next.body.map((t: { id: number }) => t.id)).toEqual(all.body.slice(8, 13).map((t: { id: number }) => t.id));
  });

  test("the last page has no Link, also when it is exactly full; a cursor past the end answers an empty page", async () => {
    const small = newUser();
    await seed(small, 4);
    const first = await api.as(small, "GET", "/api/tasks?limit=2");
    expect(linkOf(first)).toBeDefined();
    const last = await api.as(small, "GET", linkOf(first)!);
    expect(last.body.length).toBe(2);
    expect(last.headers.get("link")).toBeNull();
    expect((await api.as(small, "GET", "/api/tasks?limit=4")).headers.get("link")).toBeNull();
    expect((await api.as(newUser(), "GET", "/api/tasks")).headers.get("link")).toBeNull();
    // The last task goes away after the first page was served: the next page is empty, the total right.
    await api.as(small, "DELETE", `/api/tasks/${last.body[1].id}`);
    await api.as(small, "DELETE", `/api/tasks/${last.body[0].id}`);
    const after = await api.as(small, "GET", linkOf(first)!);
    expect(after.status).toBe(200);
    expect(after.body).toEqual([]);
    expect(after.headers.get("x-total-count")).toBe("2");
  });
});

describe("GET /api/tasks by cursor while tasks are added and removed", () => {
  for (const sort of SORTS) {
    test(`sort=${sort}: none of the tasks that existed throughout is skipped or repeated`, async () => {
      const user = newUser("churn");
      const initial = await seed(user, 18);
      const seen: number[] = [];
      const deleted = new Set<number>();
      let url: string | undefined = `/api/tasks?limit=3&sort=${sort}`;
      for (let n = 0; url; n++) {
        const res = await api.as(user, "GET", url);
        expect(res.status).toBe(200);
        seen.push(...res.body.map((t: { id: number }) => t.id));
        url = linkOf(res);
        // Between pages: one task not yet seen and one already seen go away, one new task comes.
        const unseen = initial.find((id) => !seen.includes(id) && !deleted.has(id));
        for (const id of [unseen, seen[0 + n]]) {
          if (id === undefined || deleted.has(id)) continue;
          expect((await api.as(user, "DELETE", `/api/tasks/${id}`)).status).toBe(204);
          deleted.add(id);
        }
        expect((await api.as(user, "POST", "/api/tasks", { title: TITLES[n % TITLES.length] })).status).toBe(201);
        expect(n).toBeLessThan(50);
      }
      expect(new Set(seen).size).toBe(seen.length);
      const throughout = initial.filter((id) => !deleted.has(id));
      expect(throughout.length).toBeGreaterThan(0);
      for (const id of throughout) expect(seen.filter((s) => s === id).length).toBe(1);
    });
  }
});

describe("GET /api/tasks with a bad cursor answers 422", () => {
  const user = newUser();
  let cursors: Record<string, string>;
  beforeAll(async () => {
    await seed(user, 4);
    const cursorOf = async (query: string) =>
      new URLSearchParams(linkOf(await api.as(user, "GET", `/api/tasks?${query}`))!.split("?")[1]).get("cursor")!;
    cursors = {
      title: await cursorOf("limit=1&sort=title"),
      pending: await cursorOf("limit=1&status=pending"),
      created: await cursorOf("limit=1"),
    };
  });

  // Hand-made cursors in the service's format: version 1, sort index, status index, id, key.
  const made = (bytes: number[]) => Buffer.from(bytes).toString("base64url");
  const head = (sort: number, status = 0, id = 1) => [1, sort, status, 0, 0, 0, 0, 0, 0, 0, id];

  test.each([
    ["one that is too short", () => "sort=title&cursor=AAAA"],
    ["one of another format version", () => `sort=title&cursor=${made([2, ...head(4).slice(1), 97])}`],
    ["one whose title is not UTF-8", () => `sort=title&cursor=${made([...head(4), 0xff, 0xfe])}`],
    ["one whose title holds a NUL", () => `sort=title&cursor=${made([...head(4), 97, 0])}`],
    ["one whose timestamp has 7 bytes", () => `sort=created_at&cursor=${made([...head(0), 0, 0, 0, 0, 0, 0, 1])}`],
    ["one whose id is 0", () => `sort=title&cursor=${made([...head(4, 0, 0), 97])}`],
    ["one with an unknown sort", () => `sort=title&cursor=${made([...head(9), 97])}`],
    ["one with a character appended", () => `sort=title&cursor=${cursors.title}x`],
    ["a cursor of the title sort, used with sort=-title", () => `sort=-title&cursor=${cursors.title}`],
    ["a cursor of status=pending, used without the filter", () => `cursor=${cursors.pending}`],
    ["a cursor without a filter, used with status=completed", () => `status=completed&cursor=${cursors.created}`],
  ])("%s", async (_, query) => {
    const res = await api.as(user, "GET", `/api/tasks?${query()}`);
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([{ loc: ["query", "cursor"], msg: expect.any(String), type: "value_error" }]);
  });

  test("characters outside base64url are refused by the query schema", async () => {
    const res = await api.as(user, "GET", "/api/tasks?cursor=a%2Bb%2F");
    expect(res.status).toBe(422);
    expect(res.body.detail[0]).toMatchObject({
      loc: ["query", "cursor"],
      msg: "cursor must be the value from a Link header, unchanged",
    });
  });

  test("a cursor together with offset, even offset=0, answers 422 naming offset", async () => {
    for (const offset of ["0", "2"]) {
      const res = await api.as(user, "GET", `/api/tasks?sort=title&offset=${offset}&cursor=${cursors.title}`);
      expect(res.status).toBe(422);
      expect(res.body.detail).toEqual([
        { loc: ["query", "offset"], msg: expect.stringContaining("cursor"), type: "value_error" },
      ]);
    }
  });
});

// A list longer than a few ANCHOR_EVERY (500): deep offsets start from the anchors the service keeps per
// list (src/tasks/anchors.ts) once a deep page was walked. Every page must equal what OFFSET gives, at the
// anchors, right around them and between them, and again after each kind of write (anchors go stale).
describe("GET /api/tasks at deep offsets of a long list", () => {
  const user = newUser("deep");
  const COUNT = 3_300;
  const COLUMNS: Record<string, string> = { created_at: "created_at", updated_at: "updated_at", title: "title" };
  beforeAll(async () => {
    // One task through the API (it makes the user's counter row), the rest by SQL, then the counters.
    expect((await api.as(user, "POST", "/api/tasks", { title: "a" })).status).toBe(201);
    const titles = sql.raw(`(array[${TITLES.map((t) => `'${t}'`).join(", ")}])`);
    await database.write(async (db) => {
      await db.execute(sql`
        insert into tasks (title, user_id, status, created_at, updated_at)
        select ${titles}[1 + i % ${TITLES.length}] || case when i % 3 = 0 then '' else (i % 41)::text end, ${user},
          (array['pending', 'in_progress', 'completed'])[1 + i % 3],
          timestamptz '2026-01-01 00:00:00.000100+00' + (i % 900) * interval '1 microsecond',
          timestamptz '2026-01-01 00:00:00.000100+00' + (i * 7 % 1300) * interval '1 microsecond'
        from generate_series(1, ${COUNT - 1}) i`);
      await db.execute(sql`
        update task_counts c set total = n.total, pending = n.pending, in_progress = n.in_progress, completed = n.completed
        from (select count(*) as total, count(*) filter (where status = 'pending') as pending,
          count(*) filter (where status = 'in_progress') as in_progress,
          count(*) filter (where status = 'completed') as completed from tasks where user_id = ${user}) n
        where c.user_id = ${user}`);
    });
  }, 30_000);

  /** The ids OFFSET gives for the page, straight from the table. */
  async function truth(sort: string, status: string | undefined, offset: number) {
    const column = sql.raw(COLUMNS[sort.replace("-", "")]!);
    const dir = sql.raw(sort.startsWith("-") ? "desc" : "asc");
    const rows = await database.read((db) =>
      db.execute(sql`select id from tasks where user_id = ${user} ${status ? sql`and status = ${status}` : sql``}
        order by ${column} ${dir}, id ${dir} offset ${offset} limit 20`),
    );
    return (Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows).map((r) =>
      Number((r as { id: unknown }).id),
    );
  }

  async function expectPages(sort: string, status: string | undefined, offsets: number[], total: number) {
    const filter = status ? `status=${status}&` : "";
    for (const offset of offsets) {
      const page = await api.as(user, "GET", `/api/tasks?${filter}limit=20&offset=${offset}&sort=${sort}`);
      expect(page.status).toBe(200);
      expect({ sort, status, offset, ids: page.body.map((t: { id: number }) => t.id) }).toEqual({
        sort,
        status,
        offset,
        ids: await truth(sort, status, offset),
      });
      expect(page.headers.get("x-total-count")).toBe(String(total));
    }
  }

  // The first offset of each list is walked (and takes the anchors); the others start at an anchor.
  const ALL = [1_700, 0, 499, 500, 501, 519, 999, 1_000, 1_234, 1_499, 1_500, 1_777, 2_500, 3_000, 3_280, 3_299, 3_300];
  const COMPLETED = [600, 499, 500, 501, 999, 1_000, 1_001, 1_090, 1_099, 1_100];

  test("every page around and between the anchors, in every sort, is the OFFSET page", async () => {
    for (const sort of SORTS) {
      await expectPages(sort, undefined, ALL, COUNT);
      await expectPages(sort, "completed", COMPLETED, COUNT / 3);
    }
  }, 60_000);

  test("after every kind of write, deep pages are the OFFSET pages of the new list", async () => {
    const checkAll = async (total: number, completed: number) => {
      for (const sort of SORTS) {
        await expectPages(sort, undefined, [1_000, 1_501, 2_222], total);
        await expectPages(sort, "completed", [600, 1_000], completed);
      }
    };
    await checkAll(COUNT, COUNT / 3);
    const middle = (await api.as(user, "GET", "/api/tasks?limit=1&offset=1650&sort=title")).body[0];
    // A task that sorts first by title and is the newest: every later position moves by one.
    const created = await api.as(user, "POST", "/api/tasks", { title: "!", status: "completed" });
    expect(created.status).toBe(201);
    await checkAll(COUNT + 1, COUNT / 3 + 1);
    // A title change only (no counter changes): the task moves in the title and updated_at orders.
    expect((await api.as(user, "PUT", `/api/tasks/${middle.id}`, { title: "~" })).status).toBe(200);
    await checkAll(COUNT + 1, COUNT / 3 + 1);
    // A status change: the task leaves or joins the filtered list.
    const status = middle.status === "completed" ? "pending" : "completed";
    expect((await api.as(user, "PATCH", `/api/tasks/${middle.id}`, { status })).status).toBe(200);
    const completed = COUNT / 3 + 1 + (status === "completed" ? 1 : -1);
    await checkAll(COUNT + 1, completed);
    expect((await api.as(user, "DELETE", `/api/tasks/${created.body.id}`)).status).toBe(204);
    await checkAll(COUNT, completed - 1);
    // A write that is not the service's own (an operator's SQL) is seen when it bumps the generation, as
    // docs/operations.md tells operators to.
    await database.write((db) =>
      db.execute(sql`with moved as (update tasks set created_at = created_at - interval '1 day' where id = ${middle.id} returning user_id)
        update task_counts set generation = generation + 1 where user_id in (select user_id from moved)`),
    );
    await checkAll(COUNT, completed - 1);
  }, 120_000);
});
