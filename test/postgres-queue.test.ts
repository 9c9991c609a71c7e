// patches/postgres@3.4.9.patch compacts postgres.js's internal queue (see the patch for why); this checks
// that the patched queue still behaves as a queue through the pattern the pool produces under load.
import { expect, test } from "bun:test";
// @ts-expect-error: an internal module of postgres.js (not exported), without type declarations
import Queue from "../node_modules/postgres/src/queue.js";

test("postgres.js's patched queue keeps FIFO order, length and remove() through long steady use", () => {
  const busy = Queue();
  const connections = Array.from({ length: 10 }, (_, i) => ({ i }));
  for (const c of connections) busy.push(c);
  for (let n = 0; n < 100_000; n++) {
    const c = busy.shift(); // the pool takes the longest-busy connection
    expect(busy.remove(c)).toBe(null); // move() removes it from the queue it is no longer in
    busy.push(c);
    if (n % 1000 === 0) {
      const other = connections[(n / 1000) % 10]!;
      expect(busy.remove(other)).toBe(other);
      busy.push(other);
    }
  }
  expect(busy.length).toBe(10);
  const order = Array.from({ length: 10 }, () => busy.shift());
  expect(new Set(order).size).toBe(10);
  expect(busy.length).toBe(0);
});
