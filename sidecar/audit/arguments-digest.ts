import { hash } from 'node:crypto';
import { canonicalJson } from '../../policy/hash.ts';

/**
 * The digest every audited call carries: sha256 of canonicalJson of its arguments (policy/hash.ts; pinned
 * in event.test.ts, since digests are compared across sidecar versions).
 *
 * Why not canonicalJson directly: JSON.stringify with a replacer calls back for every value and copies
 * every object through Object.entries and Object.fromEntries, ~50 % more CPU than a sorted copy given to
 * the native serialiser without one (issue #14: the digest was the costliest part of an audit event). The
 * copy inserts keys in the same sorted order as fromEntries does (array-index keys then move first in
 * both), so the text is the same. Values whose text depends on JSON.stringify's other rules (toJSON,
 * class instances, a `__proto__` key, which an assignment would not copy) take canonicalJson itself.
 * A single hash() call, not a createHash object per call.
 */
export function argumentsDigest(args: unknown): string {
  const value = args ?? {};
  const sorted = sortedCopy(value);
  const text = sorted === NOT_PLAIN ? canonicalJson(value) : JSON.stringify(sorted);
  return `sha256:${hash('sha256', text, 'hex')}`;
}

const NOT_PLAIN = Symbol('not plain JSON data');

/** The value with every object's keys in sorted order (arrays and primitives as they are), or NOT_PLAIN. */
export function sortedCopy(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = sortedCopy(value[i]);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      copy[i] = item;
    }
    return copy;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN;
  const record = value as Record<string, unknown>;
  if (typeof record['toJSON'] === 'function') return NOT_PLAIN;
  const copy: Record<string, unknown> = {};
  // The default sort compares UTF-16 code units, as canonicalJson's comparator does.
  for (const key of Object.keys(record).sort()) {
    if (key === '__proto__') return NOT_PLAIN;
    const item = sortedCopy(record[key]);
    if (item === NOT_PLAIN) return NOT_PLAIN;
    copy[key] = item;
  }
  return copy;
}
