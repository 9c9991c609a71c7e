// Typed helpers for each route of the tasks API.
//
// Every request carries two tags:
//  - name: the route template ("GET /api/tasks/{id}"), so ids do not explode
//    the URL tag into one time series per task;
//  - op:   create | list | get | update | delete (| health | seed | cleanup),
//    which the thresholds select on: http_req_duration{op:create}, ...
// Every request also declares the status it expects. A 4xx the test asked for
// (401, 404, 412, 422) is then not counted in http_req_failed, and an
// unexpected 2xx is.

import type { JSONValue } from 'k6';
import { sleep } from 'k6';
import crypto from 'k6/crypto';
import type { Params, RequestBody, Response } from 'k6/http';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { BASE_URL, envNum, HTTP_TIMEOUT } from './config.ts';

/** Extra attempts after a 503 or 429 (the service's "try again" answers). */
const RETRIES = envNum('RETRIES', 2);
/** Upper bound on one wait between attempts, whatever Retry-After says. */
const MAX_RETRY_WAIT_S = envNum('MAX_RETRY_WAIT_S', 2);
const retried = new Counter('http_retries');

// The service's own definition; k6 runs from the repository root, so the file is at hand.
import { type Sort, TASK_STATUSES, type TaskStatus } from '../../src/tasks/constants.ts';

export { TASK_STATUSES, type TaskStatus };

export interface Task {
  id: string;
  title: string;
  description: string | null;
  status: TaskStatus;
  user_id: string;
  created_at: string;
  updated_at: string;
}

export interface TaskCreate {
  title: string;
  description?: string;
  status?: TaskStatus;
}
export type TaskUpdate = Partial<TaskCreate>;

export interface ListQuery {
  status?: TaskStatus;
  limit?: number;
  offset?: number;
  sort?: Sort;
}

export interface ValidationIssue {
  loc: JSONValue[];
  msg: string;
  type: string;
}

export interface CallOptions {
  /** Bearer token; null or undefined sends no Authorization header. */
  token?: string | null;
  /** Expected status; it decides http_req_failed. Defaults per route. */
  expect?: number;
  /** Overrides the route's op tag (seed, cleanup). */
  op?: string;
  headers?: Record<string, string>;
  /** Idempotency-Key of this action: sent on every attempt, so a retried write applies once. */
  idempotencyKey?: string;
}

/** A random (version 4) UUID: one per write action, reused by its retries. */
export function newIdempotencyKey(): string {
  const b = new Uint8Array(crypto.randomBytes(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  let hex = '';
  for (const x of b) hex += (x < 16 ? '0' : '') + x.toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Seconds to wait before attempt `attempt` (1-based): Retry-After when given, else backoff; capped. */
function retryWait(res: Response, attempt: number): number {
  const after = Number(header(res, 'Retry-After'));
  const base = Number.isFinite(after) && after >= 0 ? after : 0.1 * 2 ** (attempt - 1);
  return Math.min(MAX_RETRY_WAIT_S, base) * (0.5 + Math.random() / 2);
}

// One callback per status, created once per VU as k6 recommends for
// per-request responseCallback. (@types/k6 does not export the callback type.)
type ExpectedStatusesCallback = ReturnType<typeof http.expectedStatuses>;
const expectations: Record<number, ExpectedStatusesCallback> = {};
function expecting(status: number): ExpectedStatusesCallback {
  let cb = expectations[status];
  if (cb === undefined) {
    cb = http.expectedStatuses(status);
    expectations[status] = cb;
  }
  return cb;
}

function call(
  method: string,
  path: string,
  route: string,
  op: string,
  defaultStatus: number,
  body: JSONValue | undefined,
  o: CallOptions,
): Response {
  const headers: Record<string, string> = { Accept: 'application/json', ...o.headers };
  if (o.token) headers['Authorization'] = `Bearer ${o.token}`;
  if (o.idempotencyKey !== undefined) headers['Idempotency-Key'] = o.idempotencyKey;
  let payload: RequestBody | null = null;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const params: Params = {
    headers,
    tags: { name: `${method} ${route}`, op: o.op ?? op },
    timeout: HTTP_TIMEOUT,
    responseCallback: expecting(o.expect ?? defaultStatus),
  };
  const expected = o.expect ?? defaultStatus;
  let res = http.request(method, `${BASE_URL}${path}`, payload, params);
  // Each attempt stays in the metrics: a 503 that a retry fixed still counts in http_req_failed.
  // A write is retried only with its Idempotency-Key, so the retry cannot apply it twice.
  const safe = method === 'GET' || o.idempotencyKey !== undefined;
  for (
    let attempt = 1;
    attempt <= RETRIES && safe && (res.status === 503 || res.status === 429) && expected !== res.status;
    attempt++
  ) {
    retried.add(1, { op: o.op ?? op });
    sleep(retryWait(res, attempt));
    res = http.request(method, `${BASE_URL}${path}`, payload, params);
  }
  return res;
}

const taskPath = (id: string): string => `/api/tasks/${encodeURIComponent(id)}`;

export function health(o: CallOptions = {}): Response {
  return call('GET', '/health', '/health', 'health', 200, undefined, o);
}

export function ready(o: CallOptions = {}): Response {
  return call('GET', '/health/ready', '/health/ready', 'health', 200, undefined, o);
}

export function createTask(body: TaskCreate | JSONValue, o: CallOptions = {}): Response {
  return call('POST', '/api/tasks', '/api/tasks', 'create', 201, body as JSONValue, o);
}

export function listTasks(q: ListQuery = {}, o: CallOptions = {}): Response {
  // No URLSearchParams in k6: build the query string by hand.
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v !== undefined) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  const qs = parts.length > 0 ? `?${parts.join('&')}` : '';
  return call('GET', `/api/tasks${qs}`, '/api/tasks', 'list', 200, undefined, o);
}

export function getTask(id: string, o: CallOptions = {}): Response {
  return call('GET', taskPath(id), '/api/tasks/{id}', 'get', 200, undefined, o);
}

/** PUT (default) or PATCH; `ifMatch` sends If-Match for optimistic concurrency. */
export function updateTask(
  id: string,
  body: TaskUpdate | JSONValue,
  o: CallOptions & { method?: 'PUT' | 'PATCH'; ifMatch?: string } = {},
): Response {
  const headers = { ...o.headers };
  if (o.ifMatch !== undefined) headers['If-Match'] = o.ifMatch;
  const method = o.method ?? 'PUT';
  return call(method, taskPath(id), '/api/tasks/{id}', 'update', 200, body as JSONValue, { ...o, headers });
}

export function deleteTask(id: string, o: CallOptions = {}): Response {
  return call('DELETE', taskPath(id), '/api/tasks/{id}', 'delete', 204, undefined, o);
}

// ---- response helpers -------------------------------------------------------

/** Case-insensitive header lookup (k6 canonicalises names: "Etag", not "ETag"). */
export function header(res: Response, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const key of Object.keys(res.headers)) {
    if (key.toLowerCase() === want) return res.headers[key];
  }
  return undefined;
}

/** Parsed JSON body, or undefined when the body is empty or not JSON (never throws). */
export function jsonBody(res: Response): JSONValue | undefined {
  if (typeof res.body !== 'string' || res.body.length === 0) return undefined;
  try {
    return JSON.parse(res.body) as JSONValue;
  } catch (_notJson) {
    return undefined;
  }
}

export function isEmptyBody(res: Response): boolean {
  const b = res.body;
  return b === null || b === undefined || (typeof b === 'string' ? b.length === 0 : b.byteLength === 0);
}

function isRecord(v: unknown): v is Record<string, JSONValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isTaskStatus(v: unknown): v is TaskStatus {
  return typeof v === 'string' && (TASK_STATUSES as readonly string[]).includes(v);
}

/** The task in the body if it has the contract's shape, else null. */
export function asTask(v: JSONValue | undefined): Task | null {
  if (!isRecord(v)) return null;
  const ok =
    (typeof v['id'] === 'string' || typeof v['id'] === 'number') &&
    typeof v['title'] === 'string' &&
    (typeof v['description'] === 'string' || v['description'] === null || v['description'] === undefined) &&
    isTaskStatus(v['status']) &&
    (typeof v['user_id'] === 'string' || typeof v['user_id'] === 'number') &&
    typeof v['created_at'] === 'string' &&
    typeof v['updated_at'] === 'string';
  if (!ok) return null;
  return {
    id: String(v['id']),
    title: v['title'] as string,
    description: (v['description'] ?? null) as string | null,
    status: v['status'] as TaskStatus,
    user_id: String(v['user_id']),
    created_at: v['created_at'] as string,
    updated_at: v['updated_at'] as string,
  };
}

export function taskOf(res: Response): Task | null {
  return asTask(jsonBody(res));
}

/** The array of tasks in a list response, or null if the body is not an array of tasks. */
export function tasksOf(res: Response): Task[] | null {
  const body = jsonBody(res);
  if (!Array.isArray(body)) return null;
  const out: Task[] = [];
  for (const item of body) {
    const t = asTask(item);
    if (t === null) return null;
    out.push(t);
  }
  return out;
}

/** `detail` of an error body: a string (401/404) or a list of issues (422). */
export function detailOf(res: Response): JSONValue | undefined {
  const body = jsonBody(res);
  return isRecord(body) ? body['detail'] : undefined;
}

/** The 422 issues if `detail` is a non-empty list of {loc, msg, type}, else null. */
export function validationIssues(res: Response): ValidationIssue[] | null {
  const d = detailOf(res);
  if (!Array.isArray(d) || d.length === 0) return null;
  const out: ValidationIssue[] = [];
  for (const item of d) {
    if (!isRecord(item)) return null;
    const loc = item['loc'];
    const msg = item['msg'];
    const type = item['type'];
    if (!Array.isArray(loc) || typeof msg !== 'string' || typeof type !== 'string') return null;
    out.push({ loc, msg, type });
  }
  return out;
}

/** X-Total-Count as an integer, or null when missing or malformed. */
export function totalCount(res: Response): number | null {
  const raw = header(res, 'X-Total-Count');
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return null;
  return Number(raw.trim());
}
