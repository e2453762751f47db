import { squareBox, type Box } from '../../../src-shared/math/geometry.js';
import { coverageRegions, suppressContained, weightedNms } from './blazeface-decode.js';
import { DEFAULT_DETECTOR, loadDetector } from './registry.js';
import type { Detection, Detector, Frame } from './types.js';

export type { Detection, Detector, Frame } from './types.js';

export interface DetectOptions {
  threshold: number;
  /** Smallest face side (pixels) worth finding; decides the tiling. */
  minFaceSide: number;
  /** The original's auto-downscaling: one pass over the whole (downscaled) frame, no tiles. */
  autoDownscale?: boolean;
  /** Indices of tiles to leave out (nothing new can be there: track/tiles.ts); the whole frame (0) always runs. */
  skip?: readonly number[];
}

/**
 * Any registered detector (registry.ts) over whole frames: the whole frame plus zoomed tiles for small faces,
 * regions around known faces, and the merge of what overlapping regions found.
 */
export class FaceDetector {
  private constructor(readonly plugin: Detector) {}
  inferences = 0;

  static async load(name = DEFAULT_DETECTOR): Promise<FaceDetector> {
    return new FaceDetector(await loadDetector(name));
  }

  static of(plugin: Detector): FaceDetector {
    return new FaceDetector(plugin);
  }

  private async run(frame: Frame, regions: readonly Box[], threshold: number): Promise<Detection[][]> {
    this.inferences += regions.length;
    return this.plugin.detect(frame, regions, threshold);
  }

  /** Detections inside one square region, in frame pixels (not yet merged across regions). */
  async detectRegion(
    rgb: Uint8Array,
    width: number,
    height: number,
    region: Box,
    threshold: number,
  ): Promise<Detection[]> {
    return (await this.run({ rgb, width, height }, [region], threshold))[0] ?? [];
  }

  /** The square regions a full detection looks at: the whole frame first, then the tiles. */
  regions(width: number, height: number, options: DetectOptions): Box[] {
    const regions = coverageRegions(
      width,
      height,
      options.minFaceSide,
      this.plugin.inputSize,
      this.plugin.minFaceInput,
    );
    return options.autoDownscale ? regions.slice(0, 1) : regions;
  }

  /** Every face in a frame: the whole frame plus tiles, merged. */
  async detectFrame(rgb: Uint8Array, width: number, height: number, options: DetectOptions): Promise<Detection[]> {
    const regions = this.regions(width, height, options).filter((_, i) => i === 0 || !options.skip?.includes(i));
    const found = await this.run({ rgb, width, height }, regions, options.threshold);
    return mergeDetections(found.flat(), options.minFaceSide);
  }

  /** Faces near known boxes: one region about three times each box. */
  async detectAround(
    rgb: Uint8Array,
    width: number,
    height: number,
    boxes: readonly Box[],
    options: DetectOptions,
  ): Promise<Detection[]> {
    const found = await this.run({ rgb, width, height }, boxes.map(aroundRegion), options.threshold);
    return mergeDetections(found.flat(), options.minFaceSide);
  }

  /**
   * The aligned-crop check: an aligned face crop (square, `size` px) must show a face near its centre, or the
   * landmarks were placed on something else.
   */
  async confirmsAligned(crop: Uint8Array, size: number): Promise<boolean> {
    const found = await this.detectRegion(crop, size, size, { x: 0, y: 0, width: size, height: size }, 0.5);
    const centre = size / 2;
    return found.some(
      (d) =>
        Math.abs(d.box.x + d.box.width / 2 - centre) < size * 0.2 &&
        Math.abs(d.box.y + d.box.height / 2 - centre) < size * 0.25,
    );
  }

  dispose(): Promise<void> {
    return this.plugin.dispose();
  }
}

/** Where to look for a tracked face in the next frame: a square about three times its box. */
export function aroundRegion(box: Box): Box {
  const region = squareBox(box, 3);
  if (region.width < 64) region.width = region.height = 64;
  return region;
}

/** Merge detections from overlapping regions and drop faces below the minimum size. */
export function mergeDetections(detections: readonly Detection[], minFaceSide: number): Detection[] {
  return suppressContained(weightedNms(detections, 0.3)).filter(
    (d) => Math.max(d.box.width, d.box.height) >= minFaceSide * 0.5,
  );
}
