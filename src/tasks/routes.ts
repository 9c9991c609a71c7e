import { Elysia, type TSchema, t } from "elysia";
import { authPlugin } from "../auth/plugin";
import type { TokenVerifier } from "../auth/verifier";
import { BODY_PARSER, bodyParser } from "../body";
import type { Database } from "../db/client";
import { elysiaConfig } from "../elysia-config";
import { IdempotencyKeyHeader } from "../idempotency/key";
import { type IdempotentWrites, reply } from "../idempotency/writes";
import { fairShare, type Limits } from "../limits/plugin";
import type { RequestStates } from "../request-state";
import { LIST_DEFAULTS, type Sort } from "./constants";
import { decodeCursor, encodeCursor, type Position } from "./cursor";
import {
  ErrorBody,
  etagOf,
  parseIfMatch,
  Task,
  TaskCreate,
  TaskIdParams,
  TaskListQuery,
  TaskUpdate,
  type TaskUpdateInput,
  toTask,
  ValidationErrorBody,
} from "./model";
import { tasksOf } from "./repository";

// Statuses any authenticated route can answer, so each operation in the OpenAPI document is complete.
const common = { 401: ErrorBody, 422: ValidationErrorBody, 429: ErrorBody, 500: ErrorBody, 503: ErrorBody };
const withTask = { ...common, 404: ErrorBody };
const IfMatch = t.Optional(
  t.String({ description: "ETag from a previous response; the write happens only if it still matches" }),
);
const CreateHeaders = t.Object({ "idempotency-key": IdempotencyKeyHeader });
const ChangeHeaders = t.Object({ "if-match": IfMatch, "idempotency-key": IdempotencyKeyHeader });
// Answers built by toTask have the Task schema's type, so Elysia's check of every answer against its
// schema (for a list, 20 objects with two date-time formats each) proves nothing the compiler has not:
// the success schemas are marked `noValidate` (Elysia skips the check and still documents them).
// test/response-schemas.test.ts checks real answers of every route against the schemas instead. Input
// is validated as before; error answers keep their check.
// src/docs.ts keeps the flag out of the OpenAPI document.
const unchecked = <T extends TSchema>(schema: T): T => ({ ...schema, noValidate: true });
const SentTask = unchecked(Task);
const JSON_UTF8 = "application/json;charset=utf-8";
const detail = (summary: string) => ({ summary, tags: ["tasks"], security: [{ bearerAuth: [] }] });

// `headers` is read by the OpenAPI generator (it documents them on the response), not by the validator.
const TaskPage = unchecked(
  t.Array(Task, {
    description: "The page of tasks",
    headers: {
      "X-Total-Count": t.String({
        pattern: "^[0-9]+$",
        description: "How many tasks match the filter, on every page (not only this one)",
      }),
      Link: t.String({
        description:
          'Only when a next page exists: `</api/tasks?...&cursor=...>; rel="next"`, the same filter, limit and sort with the cursor that continues after this page',
      }),
    },
  }),
);

// A 422 in the shape the validator's own errors have.
const queryError = (field: string, msg: string) => ({ detail: [{ loc: ["query", field], msg, type: "value_error" }] });

// Relative, with the same filter, page size and sort; `offset` never: the cursor says where to go on.
function nextUrl(status: string | undefined, limit: number, sort: Sort, cursor: string) {
  return `/api/tasks?${status ? `status=${status}&` : ""}limit=${limit}&sort=${sort}&cursor=${cursor}`;
}

export function taskRoutes({
  database,
  verifier,
  states,
  admit,
  limits,
  maxTasksPerUser,
  writes,
}: {
  database: Database;
  verifier: TokenVerifier;
  /** The app's per-request state: the plugins note the user there and what to run after the answer. */
  states: RequestStates;
  /** Throws while the API is closed (the process is starting); runs before the token is checked. */
  admit: () => void;
  limits: Limits;
  maxTasksPerUser: number;
  writes: IdempotentWrites;
}) {
  // PUT and PATCH share one implementation (the contract makes them the same partial update).
  type Change = {
    userId: string;
    params: { id: string };
    body: TaskUpdateInput;
    headers: typeof ChangeHeaders.static;
    set: Parameters<typeof reply>[0];
  };
  const update =
    (method: "PUT" | "PATCH") =>
    async ({ userId, params, body, headers, set }: Change) => {
      const id = Number(params.id);
      return reply(
        set,
        await writes.run(
          { userId, key: headers["idempotency-key"], method, path: `/api/tasks/${id}`, body },
          async (db, record) => {
            const row = await tasksOf(db).update(userId, id, body, parseIfMatch(headers["if-match"], id), record);
            return { status: 200, body: toTask(row), etag: etagOf(row) };
          },
        ),
      );
    };
  const updateSchema = {
    parse: BODY_PARSER,
    params: TaskIdParams,
    body: TaskUpdate,
    headers: ChangeHeaders,
    response: { 200: SentTask, ...withTask, 409: ErrorBody, 412: ErrorBody },
  };

  return new Elysia({ ...elysiaConfig, prefix: "/api/tasks" })
    .use(bodyParser(verifier, admit))
    .use(authPlugin(verifier, states, admit))
    .use(fairShare(limits, states))
    .post(
      "",
      async ({ userId, body, headers, set }) =>
        reply(
          set,
          await writes.run(
            { userId, key: headers["idempotency-key"], method: "POST", path: "/api/tasks", body },
            async (db, record) => {
              const row = await tasksOf(db).create(userId, body, maxTasksPerUser, record);
              return { status: 201, body: toTask(row), location: `/api/tasks/${row.id}`, etag: etagOf(row) };
            },
          ),
        ),
      {
        parse: BODY_PARSER,
        body: TaskCreate,
        headers: CreateHeaders,
        response: { 201: SentTask, ...common, 409: ErrorBody },
        detail: detail("Create a task"),
      },
    )

    .get(
      "",
      async ({ userId, query, set, status }) => {
        const sort = query.sort ?? LIST_DEFAULTS.sort;
        const limit = Number(query.limit ?? LIST_DEFAULTS.limit);
        let after: Position | undefined;
        if (query.cursor !== undefined) {
          if (query.offset !== undefined)
            return status(
              422,
              queryError(
                "offset",
                "offset cannot be combined with cursor; the cursor already says where the page starts",
              ),
            );
          const decoded = decodeCursor(query.cursor, sort, query.status);
          if ("error" in decoded) return status(422, queryError("cursor", decoded.error));
          after = decoded;
        }
        const offset = Number(query.offset ?? LIST_DEFAULTS.offset);
        const page = await database.read((db) =>
          tasksOf(db).list(userId, { status: query.status, limit, offset, sort, after }),
        );
        set.headers["x-total-count"] = String(page.total);
        if (page.next)
          set.headers.link = `<${nextUrl(query.status, limit, sort, encodeCursor(page.next))}>; rel="next"`;
        set.headers["content-type"] = JSON_UTF8;
        return page.rows.map(toTask);
      },
      {
        query: TaskListQuery,
        response: { 200: TaskPage, ...common },
        detail: detail("List your tasks (X-Total-Count: all matching; Link: the next page, when there is one)"),
      },
    )

    .get(
      "/:id",
      async ({ userId, params, set }) => {
        const row = await database.read((db) => tasksOf(db).get(userId, Number(params.id)));
        set.headers.etag = etagOf(row);
        return toTask(row);
      },
      { params: TaskIdParams, response: { 200: SentTask, ...withTask }, detail: detail("Get one of your tasks") },
    )

    .put("/:id", update("PUT"), { ...updateSchema, detail: detail("Update a task (any subset of fields)") })
    .patch("/:id", update("PATCH"), { ...updateSchema, detail: detail("Update a task; same as PUT") })

    .delete(
      "/:id",
      async ({ userId, params, headers, set }) => {
        const id = Number(params.id);
        return reply(
          set,
          await writes.run(
            { userId, key: headers["idempotency-key"], method: "DELETE", path: `/api/tasks/${id}` },
            async (db, record) => {
              await tasksOf(db).delete(userId, id, parseIfMatch(headers["if-match"], id), record);
              return { status: 204 };
            },
          ),
        );
      },
      {
        // A DELETE reads no body, but one sent is still held to the same limit and token-first order.
        parse: BODY_PARSER,
        params: TaskIdParams,
        headers: ChangeHeaders,
        response: { 204: t.Void(), ...withTask, 409: ErrorBody, 412: ErrorBody },
        detail: detail("Delete a task"),
      },
    );
}
