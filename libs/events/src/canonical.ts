/**
 * The canonical encoding of the design: JSON with object keys in code-point order at every level,
 * no insignificant whitespace, finite numbers only, `undefined` members dropped. Two equal values
 * always encode to the same bytes, which is what makes a run's log hash meaningful.
 */

export class CanonicalEncodingError extends Error {}

/**
 * The canonical encoding. Most payloads are built with their keys already in order, so a cheap
 * walk that checks that (and that every number is finite) lets native JSON.stringify do the
 * work; anything else goes through the sorting encoder. Both give the same bytes.
 */
export function canonicalJson(value: unknown): string {
  return isCanonicalShape(value) ? JSON.stringify(value) : sortingEncode(value);
}

/** Whether JSON.stringify(value) already is the canonical encoding. */
function isCanonicalShape(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) {
        for (const item of value) if (item === undefined || !isCanonicalShape(item)) return false;
        return true;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      let prev = '';
      let first = true;
      for (const k in value) {
        if (!first && k <= prev) return false;
        first = false;
        prev = k;
        const v = (value as Record<string, unknown>)[k];
        if (v === undefined || !isCanonicalShape(v)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function sortingEncode(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalEncodingError(`non-finite number ${value}`);
      return Object.is(value, -0) ? '0' : String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          const item: unknown = value[i];
          out += item === undefined ? 'null' : sortingEncode(item);
        }
        return out + ']';
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj);
      if (!isSorted(keys)) keys.sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += JSON.stringify(k) + ':' + sortingEncode(v);
      }
      return out + '}';
    }
    default:
      throw new CanonicalEncodingError(`cannot encode a ${typeof value}`);
  }
}

function isSorted(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1] > keys[i]) return false;
  return true;
}
