import type { TrainingSettings } from '../../../src-shared/contract/index.js';

export type NormKind = TrainingSettings['norm'];

/** Everything that fixes the networks' shapes; stored with checkpoints and exported models. */
export interface ArchConfig {
  resolution: 64 | 128 | 256;
  capacity: 'lite' | 'standard';
  useSelfAttention: boolean;
  norm: NormKind;
  /** Filters of the first encoder conv; the original's 64 (standard) and 32 (lite). Tests shrink it. */
  baseFilters: number;
  latent: number;
}

export function archFromSettings(
  t: Pick<TrainingSettings, 'resolution' | 'capacity' | 'useSelfAttention' | 'norm'> & {
    modelWidth?: number | undefined;
  },
  overrides: Partial<ArchConfig> = {},
): ArchConfig {
  const lite = t.capacity === 'lite';
  return {
    resolution: t.resolution,
    capacity: t.capacity,
    useSelfAttention: t.useSelfAttention,
    norm: t.norm,
    baseFilters: t.modelWidth ?? (lite ? 32 : 64),
    latent: lite && t.resolution > 64 ? 2048 : 1024,
    ...overrides,
  };
}

/** Channel plan of the original, scaled from baseFilters (64 standard: 64/128/256/512/1024; lite: 32/64/128/256/256). */
export function channels(arch: ArchConfig): {
  enc: [number, number, number, number, number];
  up: number;
  dec: [number, number, number];
} {
  const b = arch.baseFilters;
  const lite = arch.capacity === 'lite';
  const enc: [number, number, number, number, number] = [b, b * 2, b * 4, b * 8, lite ? b * 8 : b * 16];
  const up = lite ? b * 8 : b * 8;
  const dec: [number, number, number] = [b * 4, b * 2, b];
  return { enc, up, dec };
}
