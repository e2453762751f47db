import { MIN_STATS_PIXELS, type ColourMode } from './mode.js';

/**
 * upstream's hist_match per channel, on 8-bit values: each source value goes to the reference value at the same
 * quantile, linearly interpolated between the reference's values (np.interp over the unique values' quantiles).
 */
function histMatch(src: Float32Array, ref: Float32Array, weight: Float32Array | null): Float32Array | null {
  let total = 0;
  for (let p = 0; p < src.length / 3; p += 1) total += weight ? (weight[p] as number) : 1;
  if (total < MIN_STATS_PIXELS) return null;
  const out = new Float32Array(src.length);
  const byte = (v: number): number => Math.min(255, Math.max(0, Math.round(v * 255)));
  for (let c = 0; c < 3; c += 1) {
    const hs = new Float64Array(256);
    const hr = new Float64Array(256);
    for (let p = 0; p < src.length / 3; p += 1) {
      const w = weight ? (weight[p] as number) : 1;
      if (w <= 0) continue;
      const a = byte(src[p * 3 + c] as number);
      const b = byte(ref[p * 3 + c] as number);
      hs[a] = (hs[a] as number) + w;
      hr[b] = (hr[b] as number) + w;
    }
    // Quantiles of the values present (np.unique + cumsum / total).
    const quantiles = (h: Float64Array): { values: number[]; q: number[] } => {
      const values: number[] = [];
      const q: number[] = [];
      let acc = 0;
      const sum = h.reduce((x, y) => x + y, 0);
      for (let i = 0; i < 256; i += 1) {
        if ((h[i] as number) <= 0) continue;
        acc += h[i] as number;
        values.push(i);
        q.push(acc / sum);
      }
      return { values, q };
    };
    const s = quantiles(hs);
    const t = quantiles(hr);
    const lut = new Float32Array(256);
    let j = 0;
    for (let k = 0; k < s.values.length; k += 1) {
      const x = s.q[k] as number;
      // np.interp(x, t.q, t.values): clamped at both ends, linear between.
      while (j < t.q.length - 1 && (t.q[j] as number) < x) j += 1;
      let v: number;
      if (j === 0 || x <= (t.q[0] as number)) v = t.values[0] as number;
      else {
        const q0 = t.q[j - 1] as number;
        const q1 = t.q[j] as number;
        const f = q1 > q0 ? (x - q0) / (q1 - q0) : 1;
        v = (t.values[j - 1] as number) + f * ((t.values[j] as number) - (t.values[j - 1] as number));
      }
      lut[s.values[k] as number] = v / 255;
    }
    for (let p = 0; p < src.length / 3; p += 1) out[p * 3 + c] = lut[byte(src[p * 3 + c] as number)] as number;
  }
  return out;
}

export const histmatch: ColourMode = {
  name: 'HISTMATCH',
  label: 'Histogram matching',
  help: "each channel's histogram matched to the source's (upstream's default)",
  correct: histMatch,
};
