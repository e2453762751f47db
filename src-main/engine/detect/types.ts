/** What every face detector plugin gives and takes (detect/registry.ts lists them). */
import type { Box, Point } from '../../../src-shared/math/geometry.js';

export interface Detection {
  box: Box;
  score: number;
  /**
   * Facial keypoints in frame pixels when the detector gives them. The first four, when present, are the right
   * eye, left eye, nose tip and mouth centre (the subject's right eye is on the image's left): the second look
   * (second-look.ts) compares them with the landmark net's fit. BlazeFace adds the right and left ears.
   */
  keypoints: Point[];
}

/** A packed RGB frame (3 bytes a pixel, row-major). */
export interface Frame {
  rgb: Uint8Array;
  width: number;
  height: number;
}

/**
 * A face detector: finds faces in square regions of a frame. Tiling the frame, merging regions, tracking and the
 * second look are done once for every detector (detector.ts, track/follow.ts); a plugin only detects.
 */
export interface Detector {
  /** The registry name. */
  readonly name: string;
  /** Side (px) of the square the detector sees: a region is resampled to it. */
  readonly inputSize: number;
  /** The smallest face side (px of its input) it finds reliably: the tiling zooms small faces up to it. */
  readonly minFaceInput: number;
  /** The faces in each region (frame pixels), with scores 0..1 of at least `threshold`; one list per region. */
  detect(frame: Frame, regions: readonly Box[], threshold: number): Promise<Detection[][]>;
  dispose(): Promise<void>;
}
