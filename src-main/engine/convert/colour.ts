/** Pure colour correction of the generated face against the source region (images as Float32 RGB 0..1). */

export type ColourMode = 'NONE' | 'ADAIN' | 'ADAIN_XYZ' | 'HISTMATCH';

const RGB_TO_XYZ = [0.4124, 0.3576, 0.1805, 0.2126, 0.7152, 0.0722, 0.0193, 0.1192, 0.9505];
const XYZ_TO_RGB = [3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415, 0.0557, -0.204, 1.057];

function mat3(img: Float32Array, m: number[]): Float32Array {
  const out = new Float32Array(img.length);
  for (let i = 0; i < img.length; i += 3) {
    for (let r = 0; r < 3; r += 1) {
      out[i + r] =
        (m[r * 3] as number) * (img[i] as number) +
        (m[r * 3 + 1] as number) * (img[i + 1] as number) +
        (m[r * 3 + 2] as number) * (img[i + 2] as number);
    }
  }
  return out;
}

/** Per-channel statistics over the pixels where weight > 0.5 (the face), or all when none is given. */
function stats(img: Float32Array, weight: Float32Array | null): { mean: number[]; std: number[] } {
  const mean = [0, 0, 0];
  const sq = [0, 0, 0];
  let n = 0;
  for (let p = 0; p < img.length / 3; p += 1) {
    if (weight && (weight[p] as number) < 0.5) continue;
    n += 1;
    for (let c = 0; c < 3; c += 1) {
      const v = img[p * 3 + c] as number;
      mean[c] = (mean[c] as number) + v;
      sq[c] = (sq[c] as number) + v * v;
    }
  }
  if (n === 0) return { mean: [0, 0, 0], std: [1, 1, 1] };
  const m = mean.map((s) => s / n);
  return { mean: m, std: sq.map((s, c) => Math.sqrt(Math.max(1e-8, s / n - (m[c] as number) ** 2))) };
}

function adain(src: Float32Array, ref: Float32Array, weight: Float32Array | null): Float32Array {
  const s = stats(src, weight);
  const r = stats(ref, weight);
  return Float32Array.from(
    src,
    (v, i) =>
      ((v - (s.mean[i % 3] as number)) / (s.std[i % 3] as number)) * (r.std[i % 3] as number) +
      (r.mean[i % 3] as number),
  );
}

/** Histogram matching per channel (256 bins), over the weighted region. */
function histMatch(src: Float32Array, ref: Float32Array, weight: Float32Array | null): Float32Array {
  const out = new Float32Array(src.length);
  for (let c = 0; c < 3; c += 1) {
    const hs = new Float64Array(256);
    const hr = new Float64Array(256);
    for (let p = 0; p < src.length / 3; p += 1) {
      if (weight && (weight[p] as number) < 0.5) continue;
      const a = Math.min(255, Math.max(0, Math.round((src[p * 3 + c] as number) * 255)));
      hs[a] = (hs[a] as number) + 1;
      const b = Math.min(255, Math.max(0, Math.round((ref[p * 3 + c] as number) * 255)));
      hr[b] = (hr[b] as number) + 1;
    }
    const cdf = (h: Float64Array): Float64Array => {
      const out2 = new Float64Array(256);
      let acc = 0;
      const total = h.reduce((a, b) => a + b, 0) || 1;
      for (let i = 0; i < 256; i += 1) {
        acc += h[i] as number;
        out2[i] = acc / total;
      }
      return out2;
    };
    const cs = cdf(hs);
    const cr = cdf(hr);
    const lut = new Float32Array(256);
    let j = 0;
    for (let i = 0; i < 256; i += 1) {
      while (j < 255 && (cr[j] as number) < (cs[i] as number)) j += 1;
      lut[i] = j / 255;
    }
    for (let p = 0; p < src.length / 3; p += 1)
      out[p * 3 + c] = lut[Math.min(255, Math.max(0, Math.round((src[p * 3 + c] as number) * 255)))] as number;
  }
  return out;
}

/** Correct `generated` towards `source` (same size); `weight` (0..1 per pixel) picks the region measured. */
export function correctColour(
  generated: Float32Array,
  source: Float32Array,
  mode: ColourMode,
  weight: Float32Array | null,
): Float32Array {
  switch (mode) {
    case 'NONE':
      return generated;
    case 'ADAIN':
      return adain(generated, source, weight);
    case 'ADAIN_XYZ':
      return mat3(adain(mat3(generated, RGB_TO_XYZ), mat3(source, RGB_TO_XYZ), weight), XYZ_TO_RGB);
    case 'HISTMATCH':
      return histMatch(generated, source, weight);
  }
}
