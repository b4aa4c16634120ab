/**
 * Overrides for test fixtures. With `exactOptionalPropertyTypes` an optional field is either present with a value or
 * absent, never `undefined`; here `undefined` given for an optional field means "remove it".
 */
export type Override<T> = { [K in keyof T]?: object extends Pick<T, K> ? T[K] | undefined : T[K] };

export function withOverrides<T extends object>(base: T, over: Override<T>): T {
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out as T;
}
