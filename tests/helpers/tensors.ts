/** Root-mean-square difference of `got` from `expected`, relative to the size of `expected`. */
export function relativeError(got: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i += 1) {
    num += ((got[i] as number) - (expected[i] as number)) ** 2;
    den += (expected[i] as number) ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}
