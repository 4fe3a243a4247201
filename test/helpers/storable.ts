// fast-check's JSON values and dictionaries may hold an own key named `__proto__`, which the
// database refuses (ISLAB_UNSERIALIZABLE: msgpack would give it back renamed). Properties about
// what the database does with values it accepts filter such values out with this.
export function storable(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true
  if (Array.isArray(v)) return v.every(storable)
  if (Object.hasOwn(v, '__proto__')) return false
  return Object.values(v).every(storable)
}
