/** Keys of `T` that the list `K` leaves out. */
type Unlisted<T, K extends readonly PropertyKey[]> = Exclude<keyof T, K[number]>;

/**
 * Declares the complete list of option names of the options interface `T`, checked by the
 * compiler both ways: a name `T` does not have is a type error (`satisfies`-style), and so is a
 * key of `T` missing from the list (the error names it as `unlisted`). Options readers use these
 * lists to reject unknown keys, and the docs test uses them to keep `docs/options.md` complete.
 *
 * @example
 * ```ts
 * interface Options { a?: number; b?: string }
 * export const OPTION_KEYS = optionKeys<Options>()(["a", "b"]);
 * optionKeys<Options>()(["a"]); // type error: unlisted "b"
 * ```
 */
export function optionKeys<T>() {
  return <const K extends readonly (keyof T & string)[]>(
    keys: K & ([Unlisted<T, K>] extends [never] ? unknown : { readonly unlisted: Unlisted<T, K> }),
  ): K => keys;
}
