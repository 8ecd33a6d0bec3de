/**
 * JSON for values shared through Redis: Dates round-trip as `{ "$date": iso }` (plain JSON would
 * turn them into strings); BigInt and cycles throw, and the caller skips the L2 write.
 */
export function encode(value: unknown): string {
  return JSON.stringify(
    value,
    function replacer(this: Record<string, unknown>, key: string, v: unknown) {
      const raw = this[key];
      return raw instanceof Date ? { $date: raw.toISOString() } : v;
    },
  );
}

export function decode(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const date = (v as { $date?: unknown }).$date;
      if (typeof date === "string" && Object.keys(v).length === 1) return new Date(date);
    }
    return v;
  });
}
