import { clamp01, stats, type ColourMode } from './mode.js';
import { mapToFloat32 } from '../arrays.js';

/** upstream's adain: (src - mean_s) / (sd_s + eps) * sd_t + mean_t per channel, clipped. */
export function adainTransfer(src: Float32Array, ref: Float32Array, weight: Float32Array | null): Float32Array | null {
  const s = stats(src, weight);
  const r = stats(ref, weight);
  if (!s || !r) return null;
  if (s.std.every((v) => v <= 1e-7)) return src;
  return mapToFloat32(src, (v, i) => {
    const c = i % 3;
    return clamp01(
      ((v - (s.mean[c] as number)) / ((s.std[c] as number) + 1e-7)) * (r.std[c] as number) + (r.mean[c] as number),
    );
  });
}

export const adain: ColourMode = {
  name: 'ADAIN',
  label: 'AdaIN',
  help: "each RGB channel's mean and spread matched to the source's",
  correct: adainTransfer,
};
