import assert from "node:assert/strict";
import { test } from "node:test";
import { optionKeys } from "../../src/util/option-keys.js";

interface Example {
  readonly a?: number;
  readonly b?: string;
}

test("optionKeys returns the list it is given", () => {
  assert.deepEqual(optionKeys<Example>()(["a", "b"]), ["a", "b"]);
});

// These lines are checked by `npm run typecheck`: each must be a type error, or the
// expect-error directive above it is unused and fails the typecheck.
export const missing = () =>
  // @ts-expect-error "b" is a key of Example that the list leaves out
  optionKeys<Example>()(["a"]);
export const unknown = () =>
  // @ts-expect-error "c" is not a key of Example
  optionKeys<Example>()(["a", "b", "c"]);
