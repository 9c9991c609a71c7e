// k6 provides `console` (log, info, warn, error, debug) but @types/k6 does not
// declare it, and lib "DOM" would also declare browser globals k6 lacks
// (URLSearchParams, TextEncoder, ...). Declared as interface + var so it merges
// with an existing declaration (DOM, @types/node, bun-types) instead of clashing.
declare global {
  interface Console {
    log(...data: unknown[]): void;
    info(...data: unknown[]): void;
    warn(...data: unknown[]): void;
    error(...data: unknown[]): void;
    debug(...data: unknown[]): void;
  }
  var console: Console;
}

export {};
