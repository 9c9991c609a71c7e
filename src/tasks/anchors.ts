/**
 * Where every `every`-th position falls in one user's list (one sort, one status filter): the sort key
 * and id of the tasks at positions every, 2 * every, ... (0-based), as of `generation` of the user's
 * task_counts row. An offset page starts its index scan at the nearest anchor before it (a keyset
 * condition) and steps over fewer than `every` entries, instead of up to half of the user's tasks.
 *
 * The anchors are a hint, never trusted: the list statement that uses them compares `generation` with
 * the row's current one in its own snapshot, and when any task of the user was written since (every write
 * statement of src/tasks/repository.ts bumps the generation), the same statement walks from the nearer
 * end as it would without them. So a page is exactly what OFFSET gives in that snapshot, either way.
 *
 * Per process and per database handle, at most `maxLists` lists (least recently used dropped first),
 * each with at most MAX_ANCHORS_PER_LIST anchors: bounded memory whatever users hold or ask for.
 */
export interface Anchor {
  key: string;
  id: number;
}
export interface Anchors {
  generation: number;
  every: number;
  points: Anchor[];
}

/** Spacing of the anchors; an offset steps over fewer entries than this (about 0.05 ms here). */
export const ANCHOR_EVERY = 500;
/** Past ANCHOR_EVERY * MAX_ANCHORS_PER_LIST matching tasks, the spacing grows instead of the list. */
export const MAX_ANCHORS_PER_LIST = 100;
/** Lists (user, sort, status filter) one process keeps anchors for. */
export const MAX_ANCHORED_LISTS = 512;

export const spacingFor = (total: number) => Math.max(ANCHOR_EVERY, Math.ceil(total / MAX_ANCHORS_PER_LIST));

export class AnchorCache {
  private readonly lists = new Map<string, Anchors>();

  constructor(readonly maxLists = MAX_ANCHORED_LISTS) {}

  get size() {
    return this.lists.size;
  }

  get(key: string): Anchors | undefined {
    const anchors = this.lists.get(key);
    if (anchors) {
      // Re-inserted: Map order is then least recently used first.
      this.lists.delete(key);
      this.lists.set(key, anchors);
    }
    return anchors;
  }

  set(key: string, anchors: Anchors) {
    this.lists.delete(key);
    if (this.lists.size >= this.maxLists) {
      const oldest = this.lists.keys().next();
      if (!oldest.done) this.lists.delete(oldest.value);
    }
    this.lists.set(key, anchors);
  }

  delete(key: string) {
    this.lists.delete(key);
  }
}
