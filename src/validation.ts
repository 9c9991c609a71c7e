// Elysia/TypeBox validation errors in FastAPI's shape, the `detail` of every 422: [{loc, msg, type}].

import type { TSchema } from "@sinclair/typebox";
import { type ValueError, ValueErrorType } from "@sinclair/typebox/errors";
import { Value } from "@sinclair/typebox/value";
import type { ValidationError } from "elysia";

export interface FieldError {
  loc: (string | number)[];
  msg: string;
  type: string;
}

const TYPE_NAMES: Partial<Record<ValueErrorType, string>> = {
  [ValueErrorType.ObjectAdditionalProperties]: "extra_forbidden",
  [ValueErrorType.ObjectRequiredProperty]: "missing",
  [ValueErrorType.ObjectMinProperties]: "too_short",
  [ValueErrorType.Object]: "dict_type",
  [ValueErrorType.String]: "string_type",
  [ValueErrorType.StringMaxLength]: "string_too_long",
  [ValueErrorType.StringMinLength]: "string_too_short",
  [ValueErrorType.StringPattern]: "string_pattern_mismatch",
  [ValueErrorType.Union]: "value_error",
};

const SOURCE: Record<string, string> = { body: "body", query: "query", params: "path", headers: "header" };

const MAX_FIELD_ERRORS = 64;

/**
 * TypeBox's own errors for the rejected value. Not Elysia's `error.all`: it formats a summary of each
 * error by interpolating the value into a string, which throws for a body like
 * `{"title": {"toString": false}}` (found by the fuzz test) and would turn a 422 into a 500.
 */
function* valueErrors(error: ValidationError): Generator<ValueError> {
  // A compiled TypeCheck has its own Errors(); a plain schema goes through Value.Errors.
  const validator = error.validator as { Errors?: (value: unknown) => Iterable<ValueError> } | undefined;
  const errors =
    typeof validator?.Errors === "function"
      ? validator.Errors(error.value)
      : Value.Errors(validator as unknown as TSchema, error.value);
  let count = 0;
  for (const e of errors) {
    if (count++ >= MAX_FIELD_ERRORS) return;
    yield e;
  }
}

export function fieldErrors(error: ValidationError): FieldError[] {
  const source = SOURCE[error.type] ?? error.type;
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const e of valueErrors(error)) {
    const path: (string | number)[] = String(e.path ?? "")
      .split("/")
      .filter(Boolean)
      .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    // A union reports once per branch; one line per field is what a client can act on.
    const key = path.join("/");
    if (seen.has(key)) continue;
    seen.add(key);
    const custom = e.schema?.error;
    out.push({
      loc: [source, ...path],
      msg:
        typeof custom === "string"
          ? custom
          : e.type === ValueErrorType.ObjectRequiredProperty
            ? "Field required"
            : typeof e.message === "string"
              ? e.message
              : "Invalid value",
      type: TYPE_NAMES[e.type as ValueErrorType] ?? "value_error",
    });
  }
  return out;
}

/** A 422 that is not about one field (a body that is not JSON), in the same shape. */
export const bodyNotJson: FieldError[] = [{ loc: ["body"], msg: "Body is not valid JSON", type: "json_invalid" }];
