/**
 * Tiles only where a face can appear: in video, a tile whose picture has not changed since it was last searched
 * cannot hold a face that search missed (faces found there are followed), and a flat tile (black bars, a wall)
 * holds none. Each tile keeps a tiny grey signature of its last search; it is searched again when the picture
 * changes, and at least every RESCAN_EVERY frames. Pure.
 */
import type { Box } from '../../../src-shared/math/geometry.js';

const SIGNATURE = 12;
/** Mean absolute grey change (0..255) below which a tile counts as unchanged. */
const STILL = 4;
/** Grey standard deviation below which a tile is flat. */
const FLAT = 3;
/** Frames a tile may go unsearched at most. */
export const RESCAN_EVERY = 30;

/** A SIGNATURE x SIGNATURE grey thumbnail of a region (outside the frame: 0). */
export function tileSignature(rgb: Uint8Array, width: number, height: number, region: Box): Uint8Array {
  const out = new Uint8Array(SIGNATURE * SIGNATURE);
  for (let ty = 0; ty < SIGNATURE; ty += 1)
    for (let tx = 0; tx < SIGNATURE; tx += 1) {
      const x = Math.floor(region.x + ((tx + 0.5) * region.width) / SIGNATURE);
      const y = Math.floor(region.y + ((ty + 0.5) * region.height) / SIGNATURE);
      if (x < 0 || y < 0 || x >= width || y >= height) continue;
      const i = (y * width + x) * 3;
      out[ty * SIGNATURE + tx] = Math.round(
        0.299 * (rgb[i] as number) + 0.587 * (rgb[i + 1] as number) + 0.114 * (rgb[i + 2] as number),
      );
    }
  return out;
}

function std(values: Uint8Array): number {
  let sum = 0;
  let sq = 0;
  for (const v of values) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / values.length;
  return Math.sqrt(Math.max(0, sq / values.length - mean * mean));
}

function change(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i += 1) d += Math.abs((a[i] as number) - (b[i] as number));
  return d / a.length;
}

export class TileMemory {
  private readonly searched = new Map<number, { frame: number; signature: Uint8Array }>();

  /** Tile indices (of `regions`, 0 being the whole frame) not worth a search at `frame`; remembers the others. */
  skip(rgb: Uint8Array, width: number, height: number, regions: readonly Box[], frame: number): number[] {
    const out: number[] = [];
    regions.forEach((region, i) => {
      if (i === 0) return;
      const signature = tileSignature(rgb, width, height, region);
      const last = this.searched.get(i);
      const flat = std(signature) < FLAT;
      const unchanged =
        last !== undefined && frame - last.frame < RESCAN_EVERY && change(last.signature, signature) < STILL;
      if (flat || unchanged) out.push(i);
      else this.searched.set(i, { frame, signature });
    });
    return out;
  }

  /** After a cut everything is new. */
  forget(): void {
    this.searched.clear();
  }
}
