import { Elysia, t } from "elysia";
import { authPlugin } from "../auth/plugin";
import { fairShare, type Limits } from "../limits/plugin";
import type { TokenVerifier } from "../auth/verifier";
import type { Database } from "../db/client";
import { ErrorBody, etagOf, parseIfMatch, Task, TaskCreate, TaskIdParams, TaskListQuery, TaskUpdate, toTask, ValidationErrorBody, type Sort, type TaskUpdateInput } from "./model";
import { createTask, deleteTask, getTask, listTasks, updateTask } from "./service";

// Statuses any authenticated route can answer, so each operation in the OpenAPI document is complete.
const common = { 401: ErrorBody, 422: ValidationErrorBody, 429: ErrorBody, 500: ErrorBody, 503: ErrorBody };
const withTask = { ...common, 404: ErrorBody };
const IfMatch = t.Object({ "if-match": t.Optional(t.String({ description: "ETag from a previous response; the write happens only if it still matches" })) });
const detail = (summary: string) => ({ summary, tags: ["tasks"], security: [{ bearerAuth: [] }] });

export function taskRoutes({ database, verifier, limits, maxTasksPerUser }: { database: Database; verifier: TokenVerifier; limits: Limits; maxTasksPerUser: number }) {
  // PUT and PATCH share one implementation (the contract makes them the same partial update).
  const update = async (userId: string, rawId: string, body: TaskUpdateInput, ifMatch: string | undefined, set: { headers: Record<string, unknown> }) => {
    const id = Number(rawId);
    const row = await database.write((db) => updateTask(db, userId, id, body, parseIfMatch(ifMatch, id)));
    set.headers.etag = etagOf(row);
    return toTask(row);
  };
  const updateSchema = {
    params: TaskIdParams, body: TaskUpdate, headers: IfMatch,
    response: { 200: Task, ...withTask, 412: ErrorBody },
  };

  return new Elysia({ prefix: "/api/tasks", normalize: false, encodeSchema: false })
    .use(authPlugin(verifier))
    .use(fairShare(limits))
    .post("/", async ({ userId, body, set, status }) => {
      const row = await database.write((db) => createTask(db, userId, body));
      set.headers.location = `/api/tasks/${row.id}`;
      set.headers.etag = etagOf(row);
      return status(201, toTask(row));
    }, { body: TaskCreate, response: { 201: Task, ...common }, detail: detail("Create a task") })

    .get("/", async ({ userId, query, set }) => {
      const { rows, total } = await database.read((db) => listTasks(db, userId, {
        status: query.status,
        limit: Number(query.limit ?? 100),
        offset: Number(query.offset ?? 0),
        sort: (query.sort ?? "-created_at") as Sort,
      }));
      set.headers["x-total-count"] = String(total);
      return rows.map(toTask);
    }, { query: TaskListQuery, response: { 200: t.Array(Task), ...common }, detail: detail("List your tasks (X-Total-Count: all matching)") })

    .get("/:id", async ({ userId, params, set }) => {
      const row = await database.read((db) => getTask(db, userId, Number(params.id)));
      set.headers.etag = etagOf(row);
      return toTask(row);
    }, { params: TaskIdParams, response: { 200: Task, ...withTask }, detail: detail("Get one of your tasks") })

    .put("/:id", ({ userId, params, body, headers, set }) => update(userId, params.id, body, headers["if-match"], set),
      { ...updateSchema, detail: detail("Update a task (any subset of fields)") })
    .patch("/:id", ({ userId, params, body, headers, set }) => update(userId, params.id, body, headers["if-match"], set),
      { ...updateSchema, detail: detail("Update a task; same as PUT") })

    .delete("/:id", async ({ userId, params, headers, set }) => {
      const id = Number(params.id);
      await database.write((db) => deleteTask(db, userId, id, parseIfMatch(headers["if-match"], id)));
      set.status = 204;
    }, { params: TaskIdParams, headers: IfMatch, response: { 204: t.Void(), ...withTask, 412: ErrorBody }, detail: detail("Delete a task") });
}
