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
import type { Frame } from '../detect/types.js';
import { SAME_PERSON_COSINE, cosineDistance } from '../landmarks/identity-net.js';
import { fileIdentity } from '../io/file-identity.js';
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

/** Both recognition nets' references (the independent one's, FaceRes, null when it is not measured). */
export interface References {
  faceApi: IdentityReferences;
  independent: { target: Float32Array | null; source: Float32Array | null } | null;
}

/** The nets the costly measures run: in this thread or on the model workers. */
export interface MetricModels {
  /** The two-pass landmark fit of the face in a box. */
  landmarks(frame: Frame, box: Box): Promise<Point[]>;
  /** face-api descriptors of aligned crops (alignments map the frame to crops of `size`). */
  descriptors(frame: Frame, alignments: Affine[], size: number): Promise<Float32Array[]>;
  /** The independent net's unit descriptor of the face with these landmarks. */
  identity(frame: Frame, landmarks: readonly Point[]): Promise<Float32Array>;
}

/** One sampled frame's identity and landmark measures (null: no landmarks were found on the result). */
interface Sample {
  landmarkError: number;
  faceApi: { after: { target: number | null; source: number | null }; before: number | null } | null;
  independent: { after: { target: number | null; source: number | null }; before: number | null } | null;
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
  /** The sampled frames' measures, in frame order (they run on the model workers while conversion goes on). */
  private readonly samples: Array<Promise<Sample | null>> = [];

  /** @param sampleEvery landmarks and descriptors (the costly measures) on every n-th swapped frame. */
  constructor(
    private readonly models: MetricModels,
    private readonly references: References,
    private readonly sampleEvery = 10,
  ) {}

  /**
   * One frame: `source` and `result` are the same frame index (see the file comment), never paired by time. The
   * pixel measures are taken now; a sampled frame's nets run on copies of both pictures, so the caller may reuse
   * its buffers at once.
   */
  add(frame: SwappedFrame): void {
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
    const sample = this.sample({
      ...frame,
      source: Uint8Array.from(source),
      result: Uint8Array.from(result),
    }).catch(() => null);
    this.samples.push(sample);
  }

  private async sample(frame: SwappedFrame): Promise<Sample | null> {
    const { width, height } = frame;
    const before: Frame = { rgb: frame.source, width, height };
    const after: Frame = { rgb: frame.result, width, height };
    // No landmarks on the result (a failed fit): the frame still counts for the pixel measures.
    const found = await this.models.landmarks(after, frame.box);
    if (found.length !== 68) return null;
    const { target, source: sourcePerson } = this.references.faceApi;
    const independent = this.references.independent;
    const [faceApi, indep] = await Promise.all([
      target || sourcePerson
        ? Promise.all([
            this.models.descriptors(after, [alignmentTransform(found, 150)], 150),
            target
              ? this.models.descriptors(before, [alignmentTransform(frame.sourceLandmarks, 150)], 150)
              : Promise.resolve(null),
          ]).then(([[d], b]) => ({
            after: {
              target: target ? descriptorDistance(d as Float32Array, target) : null,
              source: sourcePerson ? descriptorDistance(d as Float32Array, sourcePerson) : null,
            },
            before: b && target ? descriptorDistance(b[0] as Float32Array, target) : null,
          }))
        : Promise.resolve(null),
      independent && (independent.target || independent.source)
        ? Promise.all([
            this.models.identity(after, found),
            independent.target ? this.models.identity(before, frame.sourceLandmarks) : Promise.resolve(null),
          ]).then(([d, b]) => ({
            after: {
              target: independent.target ? cosineDistance(d, independent.target) : null,
              source: independent.source ? cosineDistance(d, independent.source) : null,
            },
            before: b && independent.target ? cosineDistance(b, independent.target) : null,
          }))
        : Promise.resolve(null),
    ]);
    return { landmarkError: landmarkError(frame.sourceLandmarks, found), faceApi, independent: indep };
  }

  async summary(): Promise<Record<string, unknown>> {
    const landmarkErrors: number[] = [];
    const faceApi = new IdentityTally(SAME_PERSON);
    const independent = new IdentityTally(SAME_PERSON_COSINE);
    for (const pending of this.samples) {
      const sample = await pending;
      if (!sample) continue;
      landmarkErrors.push(sample.landmarkError);
      if (sample.faceApi) faceApi.add(sample.faceApi.after, sample.faceApi.before);
      if (sample.independent) independent.add(sample.independent.after, sample.independent.before);
    }
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
        samples: landmarkErrors.length,
        meanNme: mean(landmarkErrors),
        note: 'mean landmark distance / inter-ocular distance between source and result faces; < 0.08 keeps expression and pose',
      },
      identity: { net: 'face-api recognition (also behind the perceptual loss)', ...faceApi.summary() },
      identityIndependent: { net: 'FaceRes (HSE), cosine distance', ...independent.summary() },
    };
  }
}

/** References made lately, by the faces they came from: an export again runs no identity net for them. */
const recentReferences = new Map<string, Float32Array | null>();
const RECENT_REFERENCES = 8;

/**
 * The independent net's reference for one side's chosen person: the mean (renormalised) descriptor of up to
 * `count` of its kept faces, evenly spread over the clip. Null when the side has no kept faces.
 */
export async function independentReference(
  store: ProjectStore,
  side: Side,
  identity: MetricModels['identity'],
  count = 8,
): Promise<Float32Array | null> {
  const rows = store.db
    .prepare(
      `SELECT crop, landmarks, transform FROM faces WHERE side = ? AND status = 'kept' AND crop IS NOT NULL ORDER BY frame_idx, id`,
    )
    .all(side) as Array<{ crop: string; landmarks: string; transform: string }>;
  if (rows.length === 0) return null;
  const picked = Array.from(
    { length: Math.min(count, rows.length) },
    (_, k) => rows[Math.floor((k * rows.length) / Math.min(count, rows.length))] as (typeof rows)[number],
  );
  // The faces as they are now: a crop written again (another extraction) is another file.
  const key = JSON.stringify(
    picked.map((row) => [fileIdentity(path.join(store.dir, row.crop)), row.landmarks, row.transform]),
  );
  const known = recentReferences.get(key);
  if (known !== undefined) return known?.slice() ?? null;
  const { reference, complete } = await describeFaces(store, picked, identity);
  // Only whole references are remembered: a face that could not be read this time may be next time.
  if (complete) {
    recentReferences.set(key, reference);
    if (recentReferences.size > RECENT_REFERENCES)
      recentReferences.delete(recentReferences.keys().next().value as string);
  }
  return reference?.slice() ?? null;
}

/**
 * The mean (renormalised) independent descriptor of faces' crops (null when none could be read), and whether every
 * face went into it.
 */
async function describeFaces(
  store: ProjectStore,
  picked: ReadonlyArray<{ crop: string; landmarks: string; transform: string }>,
  identity: MetricModels['identity'],
): Promise<{ reference: Float32Array | null; complete: boolean }> {
  // Read and describe the crops together; a crop that went missing leaves the others to make the reference.
  const descriptors = await Promise.all(
    picked.map(async (row) => {
      try {
        const { data, info } = await sharp(path.join(store.dir, row.crop))
          .removeAlpha()
          .raw()
          .toBuffer({ resolveWithObject: true });
        const transform = JSON.parse(row.transform) as Affine;
        const landmarks = (JSON.parse(row.landmarks) as Point[]).map((p) => applyAffine(transform, p));
        return await identity({ rgb: new Uint8Array(data), width: info.width, height: info.height }, landmarks);
      } catch {
        return null;
      }
    }),
  );
  const sum = new Float32Array(1024);
  let used = 0;
  for (const d of descriptors) {
    if (!d) continue;
    for (let i = 0; i < sum.length; i += 1) sum[i] = (sum[i] as number) + (d[i] as number);
    used += 1;
  }
  const complete = used === picked.length;
  if (used === 0) return { reference: null, complete };
  const norm = Math.hypot(...sum);
  return { reference: sum.map((v) => v / norm), complete };
}
