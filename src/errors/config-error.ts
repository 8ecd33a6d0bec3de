import { SteadfastError } from "./base.js";

/** One invalid option: where it is, what was given (described, never echoed if secret), what is expected. */
export interface ConfigIssue {
  /** Dotted path of the option, e.g. `"retry.maxAttempts"`. */
  readonly field: string;
  /** The expected form, e.g. `"an integer >= 1"` or `'a duration such as "250ms", "5s" or 250'`. */
  readonly expected: string;
  /** A description of what was given: its type and, unless the field is secret, a short rendering. */
  readonly received: string;
}

/**
 * Thrown when options are invalid. Lists every bad field at once, each with the expected
 * form, so a user fixes their configuration in one pass. Never contains a secret value.
 *
 * @example
 * ```ts
 * try { retry({ maxAttempts: 0 }); }
 * catch (err) { if (err instanceof ConfigError) console.error(err.issues); }
 * ```
 */
export class ConfigError extends SteadfastError {
  /** Every invalid field found, in the order they were checked. */
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map(
      (i) => `  - ${i.field}: expected ${i.expected}, received ${i.received}`,
    );
    const noun = issues.length === 1 ? "option" : "options";
    super("CONFIG_INVALID", `Invalid Steadfast ${noun}:\n${lines.join("\n")}`);
    this.issues = issues;
  }
}

/**
 * Describes a value for an error message: its type, plus a short rendering when it is not
 * secret. Strings are cut at 40 characters so a pasted blob never floods a log.
 */
export function describeValue(value: unknown, secret = false): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  if (secret) return `a ${type} (hidden)`;
  switch (type) {
    case "string": {
      const text = value as string;
      const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
      return `the string ${JSON.stringify(shown)}`;
    }
    case "number":
    case "bigint":
    case "boolean":
      return `${type} ${String(value)}`;
    case "undefined":
      return "undefined";
    case "function":
      return "a function";
    default:
      return "an object";
  }
}
