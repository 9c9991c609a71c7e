// The options every Elysia instance of the app is built with (the app itself and its plugins).

export const elysiaConfig = {
  // Unknown fields are rejected (422) rather than silently dropped.
  normalize: false,
  // Responses are not run through TypeBox's Encode (t.Integer is a transform), which cost ~8% of the
  // CPU of a 20-task list. (The task routes' success answers are not checked either: noValidate in
  // src/tasks/routes.ts; error answers are.)
  encodeSchema: false,
  // Elysia otherwise finds the path at url.indexOf("/", 11), assuming a host of at least four
  // characters, so `Host: a` with `/zz/api/tasks` ran /api/tasks (docs/development.md).
  handler: { standardHostname: false },
} as const;
