/**
 * Quality of a conversion, gathered frame by frame as it runs (or afterwards from the encoded file): the swapped
 * region's lightness against the source's, the colour step at the mask border, landmark agreement with the source
 * face (expression and pose kept) and identity, as distances of the swapped face to the target and source people
 * by two recognition nets: face-api's (which the perceptual loss also uses) and an independent one (FaceRes).
 * Pixels changed outside the mask are measured from the encoded file (outside-mask.ts).
 *
 * Each measure compares an output frame with the source frame of the same index (output frame j = source frame
 * start + j), never the source frame at the same time: an export keeps every frame but re-times them (it starts at
 * 0 while the source's first frame may be shown later), so equal timestamps are not the same picture.
 */
import path from 'node:path';
import sharp from 'sharp';
import type { Side } from '../../../src-shared/contract/index.js';
import { alignmentTransform } from '../../../src-shared/math/face.js';
import { applyAffine, type Affine, type Box, type Point } from '../../../src-shared/math/geometry.js';
import { borderColourDifference, landmarkError, regionLightness } from '../../../src-shared/math/quality.js';
import type { FaceNets } from '../landmarks/face-nets.js';
import { SAME_PERSON_COSINE, cosineDistance, type IdentityNet } from '../landmarks/identity-net.js';
import type { ProjectStore } from '../project/store.js';
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
  /** The blend mask (attention mask times region), patch pixels. */
  mask: Float32Array;
  /** Where the swap may change the frame (the chosen parts, feathered), patch pixels. */
  region: Float32Array;
  maskSize: number;
  toPatch: Affine;
}

export interface IdentityReferences {
  /** The person the face should become (side B's chosen person for AtoB). */
  target: ArrayLike<number> | null;
  /** The person in the input (side A's for AtoB). */
  source: ArrayLike<number> | null;
}

/** Both recognition nets' references. */
export interface References {
  faceApi: IdentityReferences;
  independent: { net: IdentityNet; target: Float32Array | null; source: Float32Array | null } | null;
}

const mean = (values: number[]): number | null =>
  values.length ? Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 10_000) / 10_000 : null;

/** One recognition net's distances of the swapped (and the original) faces to the target and source people. */
class IdentityTally {
  readonly toTarget: number[] = [];
  readonly toSource: number[] = [];
  readonly beforeToTarget: number[] = [];
  recognised = 0;

  constructor(readonly threshold: number) {}

  add(after: { target: number | null; source: number | null }, beforeToTarget: number | null): void {
    if (after.target !== null) {
      this.toTarget.push(after.target);
      if (after.target < this.threshold && (after.source === null || after.target < after.source)) this.recognised += 1;
    }
    if (after.source !== null) this.toSource.push(after.source);
    if (beforeToTarget !== null) this.beforeToTarget.push(beforeToTarget);
  }

  summary(): Record<string, unknown> {
    return {
      samples: this.toTarget.length,
      meanDistanceToTarget: mean(this.toTarget),
      meanDistanceToSource: mean(this.toSource),
      sourceFaceDistanceToTarget: mean(this.beforeToTarget),
      shareRecognisedAsTarget: this.toTarget.length
        ? Math.round((this.recognised / this.toTarget.length) * 1000) / 1000
        : null,
      threshold: this.threshold,
    };
  }
}

export class ConversionMetrics {
  private frames = 0;
  private readonly lightSource: number[] = [];
  private readonly lightResult: number[] = [];
  private readonly border: number[] = [];
  private readonly landmarkErrors: number[] = [];
  private readonly faceApi = new IdentityTally(SAME_PERSON);
  private readonly independent = new IdentityTally(SAME_PERSON_COSINE);

  /** @param sampleEvery landmarks and descriptors (the costly measures) on every n-th swapped frame. */
  constructor(
    private readonly nets: FaceNets,
    private readonly references: References,
    private readonly sampleEvery = 10,
  ) {}

  /** One frame: `source` and `result` are the same frame index (see the file comment), never paired by time. */
  async add(frame: SwappedFrame): Promise<void> {
    const { source, result, width, height, mask, region, maskSize, toPatch } = frame;
    const light = regionLightness(source, result, width, height, region, maskSize, toPatch);
    if (light) {
      this.lightSource.push(light.source);
      this.lightResult.push(light.result);
    }
    this.frames += 1;
    if ((this.frames - 1) % this.sampleEvery !== 0) return;
    const border = borderColourDifference(source, result, width, height, mask, maskSize, toPatch);
    if (border !== null) this.border.push(border);
    try {
      const after = await this.nets.landmarks(result, width, height, frame.box);
      this.landmarkErrors.push(landmarkError(frame.sourceLandmarks, after));
      const { target, source: sourcePerson } = this.references.faceApi;
      if (target || sourcePerson) {
        const descriptor = await this.nets.descriptor(result, width, height, alignmentTransform(after, 150), 150);
        const before = target
          ? await this.nets.descriptor(source, width, height, alignmentTransform(frame.sourceLandmarks, 150), 150)
          : null;
        this.faceApi.add(
          {
            target: target ? descriptorDistance(descriptor, target) : null,
            source: sourcePerson ? descriptorDistance(descriptor, sourcePerson) : null,
          },
          before && target ? descriptorDistance(before, target) : null,
        );
      }
      const independent = this.references.independent;
      if (independent && (independent.target || independent.source)) {
        const descriptor = await independent.net.descriptor(result, width, height, after);
        const before = independent.target
          ? await independent.net.descriptor(source, width, height, frame.sourceLandmarks)
          : null;
        this.independent.add(
          {
            target: independent.target ? cosineDistance(descriptor, independent.target) : null,
            source: independent.source ? cosineDistance(descriptor, independent.source) : null,
          },
          before && independent.target ? cosineDistance(before, independent.target) : null,
        );
      }
    } catch {
      /* no landmarks on this result: the frame still counts for the pixel measures */
    }
  }

  summary(): Record<string, unknown> {
    const source = mean(this.lightSource);
    const result = mean(this.lightResult);
    const deltas = this.lightResult.map((v, i) => v - (this.lightSource[i] as number));
    return {
      framesMeasured: this.frames,
      lightness: {
        frames: this.lightSource.length,
        meanSourceL: source,
        meanResultL: result,
        meanDeltaL: mean(deltas),
        maxAbsDeltaL: deltas.length ? Math.round(Math.max(...deltas.map(Math.abs)) * 100) / 100 : null,
        note: 'CIELAB L* inside the swap region (region >= 0.5): result minus source; within 3 keeps the lightness',
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
      identity: { net: 'face-api recognition (also behind the perceptual loss)', ...this.faceApi.summary() },
      identityIndependent: { net: 'FaceRes (HSE), cosine distance', ...this.independent.summary() },
    };
  }
}

/**
 * The independent net's reference for one side's chosen person: the mean (renormalised) descriptor of up to
 * `count` of its kept faces, evenly spread over the clip. Null when the side has no kept faces.
 */
export async function independentReference(
  store: ProjectStore,
  side: Side,
  net: IdentityNet,
  count = 8,
): Promise<Float32Array | null> {
  const rows = store.db
    .prepare(
      `SELECT crop, landmarks, transform FROM faces WHERE side = ? AND status = 'kept' AND crop IS NOT NULL ORDER BY frame_idx, id`,
    )
    .all(side) as Array<{ crop: string; landmarks: string; transform: string }>;
  if (rows.length === 0) return null;
  const sum = new Float32Array(1024);
  let used = 0;
  for (let k = 0; k < Math.min(count, rows.length); k += 1) {
    const row = rows[Math.floor((k * rows.length) / Math.min(count, rows.length))] as (typeof rows)[number];
    try {
      const { data, info } = await sharp(path.join(store.dir, row.crop))
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      const transform = JSON.parse(row.transform) as Affine;
      const landmarks = (JSON.parse(row.landmarks) as Point[]).map((p) => applyAffine(transform, p));
      const d = await net.descriptor(new Uint8Array(data), info.width, info.height, landmarks);
      for (let i = 0; i < sum.length; i += 1) sum[i] = (sum[i] as number) + (d[i] as number);
      used += 1;
    } catch {
      /* a crop that went missing: the others make the reference */
    }
  }
  if (used === 0) return null;
  const norm = Math.hypot(...sum);
  return sum.map((v) => v / norm);
}
