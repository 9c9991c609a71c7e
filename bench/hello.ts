// The HTTP ceiling: bare Bun.serve answering a constant, no routing, no framework.
const port = Number(process.argv[2] ?? 8001);
Bun.serve({ hostname: "127.0.0.1", port, fetch: () => new Response("hello") });
