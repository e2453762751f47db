import { describe, expect, it } from 'vitest';
import { mapToFloat32 } from '../../src-shared/math/arrays.js';
import { Rng } from '../../src-shared/math/rng.js';

describe('mapToFloat32', () => {
  it("gives Float32Array.from's values, index included", () => {
    const rng = new Rng(3);
    const bytes = Uint8Array.from({ length: 64 * 64 * 3 }, () => rng.int(256));
    const scale = (v: number): number => v / 127.5 - 1;
    expect(mapToFloat32(bytes, scale)).toEqual(Float32Array.from(bytes, scale));
    const floats = Float32Array.from({ length: 999 }, () => rng.normal());
    const mixed = (v: number, i: number): number => v * (i % 3) + i / 7;
    expect(mapToFloat32(floats, mixed)).toEqual(Float32Array.from(floats, mixed));
  });
});
