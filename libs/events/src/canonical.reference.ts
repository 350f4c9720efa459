/**
 * For tests: the canonical encoding by its definition, written independently of the encoders
 * under test: sort every object's keys, drop undefined members, then JSON.stringify.
 */
export function reference(value: unknown): string {
  const sortDeep = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : sortDeep(x)));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined) out[k] = sortDeep(x);
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(sortDeep(value));
}
