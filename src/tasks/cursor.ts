import { SORTS, type Sort, TASK_STATUSES, type TaskStatus } from "./constants";

/**
 * Where a page ended: the last task's sort key and id, for the sort and status filter it belongs to.
 * `key` is the title, or a timestamp as an ISO string with microseconds (PostgreSQL keeps microseconds;
 * a JS Date would round them away and make the next page repeat or skip tasks of the same millisecond).
 */
export interface Position {
  sort: Sort;
  status: TaskStatus | undefined;
  key: string;
  id: number;
}

// Bytes: version, sort, status (0: none), id (8, big-endian), then the key: 8 bytes of microseconds
// since 1970 for the timestamp sorts, the title's UTF-8 for the title sorts. Opaque to clients, and not
// signed: whatever a client makes of it, the query stays scoped to its own tasks.
const VERSION = 1;
const HEAD = 11;
const MAX_TITLE_BYTES = 255 * 4;
const MAX_MICROS = 253_402_300_799_999_999n; // 9999-12-31T23:59:59.999999Z
const utf8 = new TextDecoder("utf-8", { fatal: true });

const isTitleSort = (sort: Sort) => sort === "title" || sort === "-title";

export function encodeCursor(p: Position): string {
  const key = isTitleSort(p.sort) ? new TextEncoder().encode(p.key) : micros(p.key);
  const bytes = new Uint8Array(HEAD + key.length);
  const view = new DataView(bytes.buffer);
  bytes[0] = VERSION;
  bytes[1] = SORTS.indexOf(p.sort);
  bytes[2] = p.status === undefined ? 0 : TASK_STATUSES.indexOf(p.status) + 1;
  view.setBigUint64(3, BigInt(p.id));
  bytes.set(key, HEAD);
  return Buffer.from(bytes).toString("base64url");
}

/** The position a cursor holds, or why it cannot be used with this sort and status filter. */
export function decodeCursor(cursor: string, sort: Sort, status: TaskStatus | undefined): Position | { error: string } {
  const invalid = { error: "cursor is not one this service issued (use the Link header's URL as it is)" };
  const bytes = new Uint8Array(Buffer.from(cursor, "base64url"));
  if (bytes.length < HEAD + 1 || Buffer.from(bytes).toString("base64url") !== cursor || bytes[0] !== VERSION)
    return invalid;
  const view = new DataView(bytes.buffer);
  const cursorSort = SORTS[bytes[1]!];
  const statusByte = bytes[2]!;
  const id = view.getBigUint64(3);
  if (!cursorSort || statusByte > TASK_STATUSES.length || id < 1n || id > BigInt(Number.MAX_SAFE_INTEGER))
    return invalid;
  const cursorStatus = statusByte === 0 ? undefined : TASK_STATUSES[statusByte - 1];
  if (cursorSort !== sort || cursorStatus !== status) {
    return {
      error: `cursor belongs to sort=${cursorSort}${cursorStatus ? ` and status=${cursorStatus}` : " without a status filter"}; ask again with those, or start over without cursor`,
    };
  }
  const keyBytes = bytes.subarray(HEAD);
  let key: string;
  if (isTitleSort(sort)) {
    if (keyBytes.length > MAX_TITLE_BYTES) return invalid;
    try {
      key = utf8.decode(keyBytes);
    } catch {
      return invalid;
    }
    // PostgreSQL cannot take a NUL in text; no stored title has one.
    if (key.includes("\u0000")) return invalid;
  } else {
    if (keyBytes.length !== 8) return invalid;
    const us = new DataView(keyBytes.buffer, keyBytes.byteOffset, 8).getBigInt64(0);
    if (us < 0n || us > MAX_MICROS) return invalid;
    key = isoMicros(us);
  }
  return { sort, status, key, id: Number(id) };
}

// "2026-02-05T10:00:00.123456Z" <-> microseconds since 1970, as 8 big-endian bytes.
function micros(iso: string): Uint8Array {
  const us = BigInt(Date.parse(`${iso.slice(0, 23)}Z`)) * 1000n + BigInt(iso.slice(23, 26));
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, us);
  return out;
}

function isoMicros(us: bigint): string {
  const iso = new Date(Number(us / 1000n)).toISOString();
  return `${iso.slice(0, 23)}${String(us % 1000n).padStart(3, "0")}Z`;
}
