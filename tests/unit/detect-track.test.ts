import { describe, expect, it } from 'vitest';
import {
  INPUT_SIZE,
  blazefaceAnchors,
  coverageRegions,
  decodeBlazeface,
  suppressContained,
  toFrame,
  weightedNms,
  type Detection,
} from '../../src-main/engine/detect/blazeface-decode.js';
import { capWithPoseVariety, qualityVerdict, reasonCategory } from '../../src-main/engine/dataset/selection.js';
import { cutSignature, isCut } from '../../src-main/engine/track/scene-cut.js';
import { Tracker, defaultPerson, mergeTracksByIdentity } from '../../src-main/engine/track/tracker.js';

const det = (x: number, y: number, size: number, score = 0.9): Detection => ({
  box: { x, y, width: size, height: size },
  score,
  keypoints: [],
});

describe('BlazeFace decoding', () => {
  it('lays out 896 anchors: 16x16x2 then 8x8x6', () => {
    const anchors = blazefaceAnchors();
    expect(anchors).toHaveLength(896);
    expect(anchors[0]).toEqual([0.5 / 16, 0.5 / 16]);
    expect(anchors[1]).toEqual([0.5 / 16, 0.5 / 16]);
    expect(anchors[2]).toEqual([1.5 / 16, 0.5 / 16]);
    expect(anchors[512]).toEqual([0.5 / 8, 0.5 / 8]);
    expect(anchors[895]).toEqual([7.5 / 8, 7.5 / 8]);
  });

  it('decodes a regressed box and keypoints relative to its anchor, and drops low scores', () => {
    const scores = new Float32Array(896).fill(-10);
    const boxes = new Float32Array(896 * 16);
    const i = 512 + (3 * 8 + 4) * 6; // layer 2, cell (4, 3)
    scores[i] = 3; // sigmoid ~0.95
    boxes.set([8, -4, 64, 80, 0, 0, 16, 0], i * 16);
    const [d] = decodeBlazeface(scores, boxes, 0.5) as [Detection];
    expect(d.score).toBeCloseTo(1 / (1 + Math.exp(-3)));
    expect(d.box.width).toBeCloseTo(64 / INPUT_SIZE);
    expect(d.box.x + (d.box.width ?? 0) / 2).toBeCloseTo(4.5 / 8 + 8 / INPUT_SIZE);
    expect(d.box.y + (d.box.height ?? 0) / 2).toBeCloseTo(3.5 / 8 - 4 / INPUT_SIZE);
    expect(d.keypoints[1]?.[0]).toBeCloseTo(4.5 / 8 + 16 / INPUT_SIZE);
    expect(decodeBlazeface(scores, boxes, 0.99)).toHaveLength(0);
  });

  it('merges overlapping detections by score weight and keeps separate faces apart', () => {
    const merged = weightedNms([det(0, 0, 10, 0.9), det(1, 0, 10, 0.3), det(50, 50, 10, 0.8)]);
    expect(merged).toHaveLength(2);
    expect(merged[0]?.box.x).toBeCloseTo(0.25);
    expect(merged[0]?.score).toBe(0.9);
  });

  it('drops parts of a face seen as faces by a zoomed tile', () => {
    const kept = suppressContained([det(100, 100, 200), det(150, 150, 40, 0.7), det(400, 100, 50)]);
    expect(kept.map((d) => d.box.x).sort((a, b) => a - b)).toEqual([100, 400]);
  });

  it('maps region units back to frame pixels', () => {
    const d = toFrame(
      { box: { x: 0.25, y: 0.5, width: 0.1, height: 0.1 }, score: 1, keypoints: [[0.5, 0.5]] },
      { x: 100, y: -20, width: 400, height: 400 },
    );
    expect(d.box).toEqual({ x: 200, y: 180, width: 40, height: 40 });
    expect(d.keypoints[0]).toEqual([300, 180]);
  });

  it('tiles frames so that small faces reach the detector at a usable size', () => {
    const regions = coverageRegions(640, 360, 35);
    expect(regions[0]).toMatchObject({ width: 640, height: 640 });
    expect(regions.length).toBeGreaterThan(2);
    for (const r of regions.slice(1)) expect((35 * INPUT_SIZE) / r.width).toBeGreaterThanOrEqual(24);
    // Every pixel of the frame lies in some tile.
    for (const [x, y] of [
      [0, 0],
      [639, 359],
      [320, 180],
      [500, 20],
    ] as const) {
      expect(regions.slice(1).some((r) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height)).toBe(true);
    }
    expect(coverageRegions(300, 300, 35)).toHaveLength(1);
  });
});

describe('tracking', () => {
  it('follows two moving faces with stable ids', () => {
    const tracker = new Tracker();
    const ids: number[][] = [];
    for (let f = 0; f < 20; f += 1)
      ids.push(tracker.update(f, [det(10 + f * 3, 10, 50).box, det(300 - f * 2, 40, 60).box]));
    expect(new Set(ids.map((p) => p.join()))).toEqual(new Set(['1,2']));
  });

  it('does not continue a track across a shot cut by overlap alone', () => {
    const tracker = new Tracker();
    tracker.update(0, [det(100, 100, 60).box]);
    tracker.cut(1);
    expect(tracker.update(1, [det(102, 100, 60).box])).toEqual([2]);
  });

  it('re-identifies a face after a cut by its descriptor', () => {
    const tracker = new Tracker();
    const [a] = tracker.update(0, [det(100, 100, 60).box]);
    tracker.addDescriptor(a as number, new Array(128).fill(0.1), 0);
    tracker.cut(5);
    const [b] = tracker.update(5, [det(400, 50, 80).box]);
    expect(b).not.toBe(a);
    expect(
      tracker.reidentify(
        b as number,
        new Array(128).fill(0.1).map((v, i) => v + (i === 0 ? 0.2 : 0)),
        5,
      ),
    ).toBe(a);
    const [c] = tracker.update(6, [det(400, 50, 80).box]);
    expect(c).toBe(a);
    const [d] = tracker.update(7, [det(10, 10, 40).box]);
    expect(tracker.reidentify(d as number, new Array(128).fill(0.9), 7)).toBe(d);
  });

  it('survives a snapshot and restore exactly', () => {
    const tracker = new Tracker();
    tracker.update(0, [det(100, 100, 60).box]);
    tracker.update(1, [det(104, 100, 60).box]);
    const restored = new Tracker({}, tracker.snapshot());
    expect(restored.update(2, [det(108, 100, 60).box])).toEqual(tracker.update(2, [det(108, 100, 60).box]));
  });

  it('joins tracks of one person after the pass, never tracks that share a frame', () => {
    const same = new Array(128).fill(0.2);
    const merges = mergeTracksByIdentity([
      { id: 1, frames: new Set([0, 1, 2]), descriptor: same, weight: 2 },
      { id: 2, frames: new Set([0, 1]), descriptor: same.map((v) => v + 0.01), weight: 1 },
      { id: 3, frames: new Set([10, 11, 12, 13]), descriptor: same.map((v) => v + 0.02), weight: 3 },
      { id: 4, frames: new Set([20]), descriptor: new Array(128).fill(0.9), weight: 1 },
    ]);
    // 2 and 3 are the closest pair; 1 then shares frames with the joined track and stays apart.
    expect(merges).toEqual([[3, 2]]);
  });

  it('picks the most present, largest person', () => {
    expect(
      defaultPerson([
        { id: 1, frames: 100, meanArea: 900 },
        { id: 2, frames: 90, meanArea: 6400 },
        { id: 3, frames: 300, meanArea: 100 },
      ]),
    ).toBe(2);
    expect(defaultPerson([])).toBeNull();
  });

  it('detects a cut between different pictures but not between similar frames', () => {
    const w = 64;
    const h = 36;
    const frame = (f: (x: number, y: number) => number): Uint8Array => {
      const rgb = new Uint8Array(w * h * 3);
      for (let y = 0; y < h; y += 1)
        for (let x = 0; x < w; x += 1) rgb.fill(f(x, y), (y * w + x) * 3, (y * w + x) * 3 + 3);
      return rgb;
    };
    const a = cutSignature(
      frame((x) => x * 4),
      w,
      h,
    );
    const a2 = cutSignature(
      frame((x) => x * 4 + 3),
      w,
      h,
    );
    const b = cutSignature(
      frame((x) => 255 - x * 4),
      w,
      h,
    );
    expect(isCut(a, a2)).toBe(false);
    expect(isCut(a, b)).toBe(true);
    expect(isCut(null, a)).toBe(false);
  });
});

describe('frame selection', () => {
  const limits = { minFaceSide: 35, blurThreshold: 20, maxYaw: 50, maxPitch: 40 };
  it('gives each rejected face a reason, and passes good faces', () => {
    expect(qualityVerdict({ faceSide: 80, sharpness: 100, yaw: 5, pitch: 0 }, limits)).toBeNull();
    expect(qualityVerdict({ faceSide: 20, sharpness: 100, yaw: 5, pitch: 0 }, limits)).toMatch(/too small/);
    expect(qualityVerdict({ faceSide: 80, sharpness: 2, yaw: 5, pitch: 0 }, limits)).toMatch(/blurry/);
    expect(qualityVerdict({ faceSide: 80, sharpness: 100, yaw: -70, pitch: 0 }, limits)).toMatch(/extreme pose/);
    expect(reasonCategory('blurry (sharpness 2.0 < 20)')).toBe('blurry');
  });

  it('caps the training set while keeping every pose present', () => {
    const faces = [
      ...Array.from({ length: 50 }, (_, i) => ({ id: i, yaw: 0, pitch: 0, sharpness: i })),
      { id: 100, yaw: 40, pitch: 0, sharpness: 1 },
      { id: 101, yaw: -40, pitch: 0, sharpness: 1 },
      { id: 102, yaw: 0, pitch: 30, sharpness: 1 },
    ];
    const keep = capWithPoseVariety(faces, 10);
    expect(keep.size).toBe(10);
    for (const id of [100, 101, 102, 49]) expect(keep.has(id)).toBe(true);
  });
});
