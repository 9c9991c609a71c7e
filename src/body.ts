import { Elysia, ParseError } from "elysia";
import { authenticateBeforeBody } from "./auth/plugin";
import type { TokenVerifier } from "./auth/verifier";
import { elysiaConfig } from "./elysia-config";
import { HttpError } from "./errors";

export const MAX_BODY_BYTES = 64 * 1024;

const utf8 = new TextDecoder();

const tooLarge = () => new HttpError(413, `Request body is larger than ${MAX_BODY_BYTES} bytes`);

/**
 * The body as text, at most MAX_BODY_BYTES. With Content-Length (at most the limit: the parser checked
 * it) the server has read exactly that many bytes, and request.text() decodes them natively (cheaper
 * than arrayBuffer() and a TextDecoder: PUT 65.9k -> 64.9k instructions per request in process, under
 * callgrind); a text longer in characters than the limit in bytes is a Content-Length that lied (only
 * possible in process). Without it (chunked), the bytes are counted.
 */
function bodyText(request: Request): Promise<string> {
  if (request.headers.has("content-length"))
    return request.text().then((text) => {
      if (text.length > MAX_BODY_BYTES) throw tooLarge();
      return text;
    });
  return request.arrayBuffer().then((bytes) => {
    if (bytes.byteLength > MAX_BODY_BYTES) throw tooLarge();
    return utf8.decode(bytes);
  });
}

// The body as its content type says: JSON parsed, anything else as text. No body at all is "", whatever
// the content type says (a DELETE sent with the client's usual `Content-Type: application/json`).
function parsedBody(request: Request, contentType: string): Promise<unknown> {
  return bodyText(request).then((text) => {
    if (text === "" || !contentType.includes("json")) return text;
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ParseError(error as Error);
    }
  });
}

/** The name every route that reads a body gives as its `parse` (see bodyParser). */
export const BODY_PARSER = "tasksBody" as const;

/**
 * Our own body reader as a named parser: the 64 KiB limit holds whether or not the client sent
 * Content-Length, and the token is checked before the body is read, so an anonymous client can neither
 * make us buffer a body nor learn from a 422 what a route accepts. `admit` runs first (it throws while
 * the API is closed). Promises, not an async function: no await of a token the cache answered at once.
 *
 * A named parser, not an onParse hook: for a hook, Elysia's generated handler first asks for
 * `request.body`, which makes Bun build a ReadableStream for it (about 2.8k instructions per request
 * served, docs/benchmarks.md); for a named parser it calls the parser directly. That direct call only
 * happens with patches/elysia@1.4.30.patch (docs/development.md, "Upstream reports").
 */
export function bodyParser(verifier: TokenVerifier, admit: () => void) {
  return new Elysia({ ...elysiaConfig, name: "body-parser", seed: verifier }).parser(
    BODY_PARSER,
    ({ request }, contentType) => {
      if (Number(request.headers.get("content-length") ?? 0) > MAX_BODY_BYTES) throw tooLarge();
      admit();
      const outcome = authenticateBeforeBody(verifier, request);
      if (outcome instanceof Promise) return outcome.then(() => parsedBody(request, contentType));
      return parsedBody(request, contentType);
    },
  );
}
