/**
 * `Float32Array.from(source, f)` without its cost: `from` with a mapping function walks the source through the
 * iterator protocol, a result object and a boxed number an element (a 64 px RGB patch: ~0.7 ms and ~1 MB of
 * garbage, against ~0.02 ms here). The same values.
 */
export function mapToFloat32(source: ArrayLike<number>, f: (value: number, index: number) => number): Float32Array {
  const out = new Float32Array(source.length);
  for (let i = 0; i < out.length; i += 1) out[i] = f(source[i] as number, i);
  return out;
}
