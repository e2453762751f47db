/**
 * The converter's colour-correction modes, one file each. A new mode is a file beside these and one line here;
 * the converter config's choices (src-shared/contract/settings.ts), the CLI and the studio follow.
 */
import { adainXyz } from './adain-xyz.js';
import { adain } from './adain.js';
import { histmatch } from './histmatch.js';
import { MIN_STATS_PIXELS, weightOf, type ColourMode } from './mode.js';
import { none } from './none.js';

export type { ColourMode } from './mode.js';
export { MIN_STATS_PIXELS } from './mode.js';

export const COLOUR_MODES = [none, adain, adainXyz, histmatch] as const satisfies readonly ColourMode[];

export type ColourModeName = (typeof COLOUR_MODES)[number]['name'];

const byName = (name: string): ColourMode | undefined =>
  (COLOUR_MODES as readonly ColourMode[]).find((m) => m.name === name);

/**
 * Correct `generated` towards `source` (same size) with the named mode. `weight` narrows the statistics to a
 * region; null, or a region of less than MIN_STATS_PIXELS of weight, takes the whole patch, as upstream. A mode
 * that cannot measure even the whole patch leaves the colours as they are.
 */
export function correctColour(
  generated: Float32Array,
  source: Float32Array,
  mode: string,
  weight: Float32Array | null = null,
  modes: readonly ColourMode[] = COLOUR_MODES,
): Float32Array {
  const found = modes.find((m) => m.name === mode) ?? byName(mode);
  if (!found) throw new Error(`unknown colour correction ${mode}`);
  const region = weight && weightOf(weight) >= MIN_STATS_PIXELS ? weight : null;
  return (
    found.correct(generated, source, region) ?? (region ? found.correct(generated, source, null) : null) ?? generated
  );
}
