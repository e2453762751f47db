/**
 * Quality of a conversion, gathered frame by frame as it runs (or afterwards from the encoded file): pixels changed
 * outside the mask, the colour step at the mask border, landmark agreement with the source face (expression and
 * pose kept) and identity, as face-recognition distances of the swapped face to the target and source people.
 *
 * Each measure compares an output frame with the source frame of the same index (output frame j = source frame
 * start + j), never the source frame at the same time: an export keeps every frame but re-times them (it starts at
 * 0 while the source's first frame may be shown later), so equal timestamps are not the same picture.
 */
import type { Box } from '../../../src-shared/math/geometry.js';
import { alignmentTransform } from '../../../src-shared/math/face.js';
import type { Affine, Point } from '../../../src-shared/math/geometry.js';
import { borderColourDifference, changeOutsideMask, landmarkError } from '../../../src-shared/math/quality.js';
import type { FaceNets } from '../landmarks/face-nets.js';
import { descriptorDistance } from '../track/tracker.js';

/** face-api's own threshold: descriptors closer than this are the same person. */
export const SAME_PERSON = 0.6;

export interface SwappedFrame {
  source: Uint8Array;
  result: Uint8Array;
  width: number;
  height: number;
  box: Box;
  sourceLandmarks: readonly Point[];
  mask: Float32Array;
  maskSize: number;
  toPatch: Affine;
}

export interface IdentityReferences {
  /** The person the face should become (side B's chosen person for AtoB). */
  target: ArrayLike<number> | null;
  /** The person in the input (side A's for AtoB). */
  source: ArrayLike<number> | null;
}

const mean = (values: number[]): number | null =>
  values.length ? Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 10_000) / 10_000 : null;

export class ConversionMetrics {
  private frames = 0;
  private outsidePixels = 0;
  private outsideChanged = 0;
  private outsideAbsDiff = 0;
  private readonly border: number[] = [];
  private readonly landmarkErrors: number[] = [];
  private readonly toTarget: number[] = [];
  private readonly toSource: number[] = [];
  private readonly beforeToTarget: number[] = [];
  private recognised = 0;

  /**
   * @param tolerance colour difference (0..255) below which a pixel outside the mask counts as unchanged: 0 while
   *   converting (exact), more when measuring an encoded file (compression noise).
   * @param sampleEvery landmarks and descriptors (the costly measures) on every n-th swapped frame.
   */
  constructor(
    private readonly nets: FaceNets,
    private readonly references: IdentityReferences,
    private readonly tolerance = 0,
    private readonly sampleEvery = 10,
  ) {}

  /** One frame: `source` and `result` are the same frame index (see the file comment), never paired by time. */
  async add(frame: SwappedFrame): Promise<void> {
    const { source, result, width, height, mask, maskSize, toPatch } = frame;
    const outside = changeOutsideMask(source, result, width, height, mask, maskSize, toPatch, this.tolerance);
    this.outsidePixels += outside.outside;
    this.outsideChanged += outside.changed;
    this.outsideAbsDiff += outside.meanAbsDiff * outside.outside;
    this.frames += 1;
    if ((this.frames - 1) % this.sampleEvery !== 0) return;
    const border = borderColourDifference(source, result, width, height, mask, maskSize, toPatch);
    if (border !== null) this.border.push(border);
    try {
      const after = await this.nets.landmarks(result, width, height, frame.box);
      this.landmarkErrors.push(landmarkError(frame.sourceLandmarks, after));
      const { target, source: sourcePerson } = this.references;
      if (!target && !sourcePerson) return;
      const align = alignmentTransform(after, 150);
      const descriptor = await this.nets.descriptor(result, width, height, align, 150);
      const dTarget = target ? descriptorDistance(descriptor, target) : null;
      const dSource = sourcePerson ? descriptorDistance(descriptor, sourcePerson) : null;
      if (dTarget !== null) {
        this.toTarget.push(dTarget);
        if (dTarget < SAME_PERSON && (dSource === null || dTarget < dSource)) this.recognised += 1;
        const before = await this.nets.descriptor(
          source,
          width,
          height,
          alignmentTransform(frame.sourceLandmarks, 150),
          150,
        );
        this.beforeToTarget.push(descriptorDistance(before, target as ArrayLike<number>));
      }
      if (dSource !== null) this.toSource.push(dSource);
    } catch {
      /* no landmarks on this result: the frame still counts for the pixel measures */
    }
  }

  summary(): Record<string, unknown> {
    return {
      framesMeasured: this.frames,
      outsideMask: {
        pixels: this.outsidePixels,
        changed: this.outsideChanged,
        tolerance: this.tolerance,
        meanAbsDiff: this.outsidePixels ? Math.round((this.outsideAbsDiff / this.outsidePixels) * 1000) / 1000 : 0,
      },
      borderDeltaE: {
        samples: this.border.length,
        mean: mean(this.border),
        max: this.border.length ? Math.max(...this.border) : null,
      },
      landmarkAgreement: {
        samples: this.landmarkErrors.length,
        meanNme: mean(this.landmarkErrors),
        note: 'mean landmark distance / inter-ocular distance between source and result faces; < 0.08 keeps expression and pose',
      },
      identity: {
        samples: this.toTarget.length,
        meanDistanceToTarget: mean(this.toTarget),
        meanDistanceToSource: mean(this.toSource),
        sourceFaceDistanceToTarget: mean(this.beforeToTarget),
        shareRecognisedAsTarget: this.toTarget.length
          ? Math.round((this.recognised / this.toTarget.length) * 1000) / 1000
          : null,
        threshold: SAME_PERSON,
      },
    };
  }
}
