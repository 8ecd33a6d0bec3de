/** Which keys carry which tag, kept in step with the entries in memory. */
export class TagIndex {
  readonly #keys = new Map<string, Set<string>>();

  add(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      let keys = this.#keys.get(tag);
      if (!keys) {
        keys = new Set();
        this.#keys.set(tag, keys);
      }
      keys.add(key);
    }
  }

  remove(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      const keys = this.#keys.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) this.#keys.delete(tag);
    }
  }

  /** Every key carrying any of `tags`. */
  keysOf(tags: readonly string[]): string[] {
    return tags.flatMap((tag) => [...(this.#keys.get(tag) ?? [])]);
  }

  has(tag: string, key: string): boolean {
    return this.#keys.get(tag)?.has(key) === true;
  }
}
