import type { TrainingSettings } from '../../../src-shared/contract/index.js';

export type NormKind = TrainingSettings['norm'];

/**
 * Revision of the network definition. Revision 2 follows upstream's blocks exactly (normalised upscales, the
 * decoder's stride-1 conv after each extra upscale, bias-free 64/128/256 discriminators, Keras initialisers);
 * checkpoints and models of another revision cannot be loaded into it.
 */
export const ARCH_REVISION = 2;

/** Everything that fixes the networks' shapes; stored with checkpoints and exported models. */
export interface ArchConfig {
  revision: number;
  resolution: TrainingSettings['resolution'];
  capacity: TrainingSettings['capacity'];
  useSelfAttention: boolean;
  norm: NormKind;
  /** Filters of the first encoder conv; the original's 64 (standard) and 32 (lite). Tests shrink it. */
  baseFilters: number;
  /** Filters of the discriminators' first conv: 64 for both capacities in the original. Tests shrink it. */
  discFilters: number;
  latent: number;
}

export function archFromSettings(
  t: Pick<TrainingSettings, 'resolution' | 'capacity' | 'useSelfAttention' | 'norm'> & {
    modelWidth?: number | undefined;
    discriminatorWidth?: number | undefined;
  },
  overrides: Partial<ArchConfig> = {},
): ArchConfig {
  const lite = t.capacity === 'lite';
  return {
    revision: ARCH_REVISION,
    resolution: t.resolution,
    capacity: t.capacity,
    useSelfAttention: t.useSelfAttention,
    norm: t.norm,
    baseFilters: t.modelWidth ?? defaultModelWidth(t.capacity),
    discFilters: t.discriminatorWidth ?? DEFAULT_DISC_WIDTH,
    latent: lite && t.resolution > 64 ? 2048 : 1024,
    ...overrides,
  };
}

/** The original's first-layer width per capacity (lite halves the generator's channels). */
export function defaultModelWidth(capacity: ArchConfig['capacity']): number {
  return capacity === 'lite' ? 32 : 64;
}
export const DEFAULT_DISC_WIDTH = 64;

/**
 * Channel plan of the original, scaled from baseFilters (64 standard: 64/128/256/512/1024; lite: 32/64/128/256/256,
 * since upstream divides the 1024 by coef squared). The encoder's upscale goes to 8 * baseFilters (512 / 256), the
 * decoder's three upscales to 4x, 2x and 1x baseFilters.
 */
export function channels(arch: ArchConfig): {
  enc: [number, number, number, number, number];
  up: number;
  dec: [number, number, number];
} {
  const b = arch.baseFilters;
  const lite = arch.capacity === 'lite';
  const enc: [number, number, number, number, number] = [b, b * 2, b * 4, b * 8, lite ? b * 8 : b * 16];
  return { enc, up: b * 8, dec: [b * 4, b * 2, b] };
}
