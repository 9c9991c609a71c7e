// The task vocabulary, defined once: the table's check constraint, the request schemas, the list
// query and the k6 helpers derive from it. No imports, so k6 (which loads files one by one) can use it.

export const TASK_STATUSES = ["pending", "in_progress", "completed"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
/** The status of a task created without one. */
export const DEFAULT_STATUS: TaskStatus = "pending";

/** `field` ascending, `-field` descending; ties are broken by id in the same direction. */
export const SORTS = ["created_at", "-created_at", "updated_at", "-updated_at", "title", "-title"] as const;
export type Sort = (typeof SORTS)[number];

/** What GET /api/tasks uses for a parameter the query leaves out. */
export const LIST_DEFAULTS: { limit: number; offset: number; sort: Sort } = {
  limit: 100,
  offset: 0,
  sort: "-created_at",
};
