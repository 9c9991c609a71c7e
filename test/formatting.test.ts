// The hand-written formatters of the hot path answer exactly what the built-ins they replace answer.
import { describe, expect, test } from "bun:test";
import { createLogger } from "../src/logger";
import { isoTime } from "../src/time";

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
