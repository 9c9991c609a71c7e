// The hand-written formatters of the hot path answer exactly what the built-ins they replace answer.
import { describe, expect, test } from "bun:test";
import { createLogger } from "../src/logger";
import { isoFromTimestamp, isoTime } from "../src/time";

describe("isoTime", () => {
  test("equals toISOString for dates across and beyond years 1000-9999, and throws the same on an invalid date", () => {
    const edges = [
      "1000-01-01T00:00:00.000Z",
      "0999-12-31T23:59:59.999Z",
      "9999-12-31T23:59:59.999Z",
      "+010000-01-01T00:00:00.000Z",
      "1970-01-01T00:00:00.000Z",
      "2024-02-29T12:05:09.007Z",
    ];
    const dates = [
      ...edges.map((s) => new Date(s)),
      ...Array.from({ length: 20_000 }, (_, i) => new Date(-7e13 + i * 1.2345e10 + (i % 1000))),
    ];
    const mismatches = dates.filter((d) => isoTime(d) !== d.toISOString()).map((d) => d.toISOString());
    expect(mismatches).toEqual([]);
    expect(() => isoTime(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe("isoFromTimestamp", () => {
  test("equals what a Date made from PostgreSQL's timestamptz text formats to, for every fraction length, zone and year", () => {
    const texts = [
      "2026-02-05 10:00:00+00",
      "2026-02-05 10:00:00.1+00",
      "2026-02-05 10:00:00.12+00",
      "2026-02-05 10:00:00.123+00",
      "2026-02-05 10:00:00.1234+00",
      "2026-02-05 10:00:00.999999+00",
      "2026-02-05 10:00:00.000001+00",
      "0999-12-31 23:59:59.999999+00",
      "9999-12-31 23:59:59.999999+00",
      "2026-02-05 10:00:00.5+05:30",
      "2026-02-05 10:00:00.123456-08",
      "2026-02-05 10:00:00+01",
    ];
    // Random instants and fraction lengths, in the format PostgreSQL prints (trailing zeros dropped).
    for (let i = 0; i < 20_000; i++) {
      const iso = new Date(-3e13 + i * 1.3e10 + (i % 1000)).toISOString(); // years 1019 to 9200
      const fraction = String((i * 7919) % 1_000_000)
        .padStart(6, "0")
        .replace(/0+$/, "");
      texts.push(`${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? `.${fraction}` : ""}+00`);
    }
    const mismatches = texts.filter((t) => isoFromTimestamp(t) !== new Date(t).toISOString());
    expect(mismatches).toEqual([]);
    const date = new Date("2026-02-05T10:00:00.123Z");
    expect(isoFromTimestamp(date)).toBe(date.toISOString());
    expect(() => isoFromTimestamp("0001-01-01 00:00:00+00 BC")).toThrow(RangeError);
  });
});

describe("log lines", () => {
  const lineOf = (msg: string, fields?: Record<string, unknown>) => {
    const lines: string[] = [];
    createLogger({ level: "debug" }, (line) => lines.push(line)).info(msg, fields);
    return JSON.parse(lines[0]!);
  };
  test("hold time, level, msg and the fields, in that order, as JSON.stringify of the merged object would", () => {
    const fields = {
      request_id: "r-1",
      path: "/api/tasks",
      status: 200,
      duration_ms: 1.25,
      user_id: 'a "quoted"\nuser',
      skipped: undefined,
      nested: { a: [1, null] },
    };
    const line = lineOf("request", fields);
    expect(line).toEqual({ time: line.time, level: "info", msg: "request", ...JSON.parse(JSON.stringify(fields)) });
    expect(Object.keys(line)).toEqual([
      "time",
      "level",
      "msg",
      "request_id",
      "path",
      "status",
      "duration_ms",
      "user_id",
      "nested",
    ]);
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Object.keys(lineOf("bare"))).toEqual(["time", "level", "msg"]);
    expect(Object.keys(lineOf("empty", {}))).toEqual(["time", "level", "msg"]);
  });
  test("a field named like a leading key replaces it, once", () => {
    const lines: string[] = [];
    createLogger({}, (line) => lines.push(line)).warn("first", { msg: "second" });
    expect(lines[0]!.match(/"msg"/g)).toHaveLength(1);
    expect(JSON.parse(lines[0]!).msg).toBe("second");
  });
});
