/**
 * Pure smoothing for conversion: a constant-velocity Kalman filter per tracked point (the detector box's corners,
 * and the two anchors that place the swapped face), or a moving average.
 */
import { invertAffine, patchCorners, type Affine, type Box, type Point } from './geometry.js';

/** Kalman filter with state [x, y, vx, vy] and measurement [x, y] (cv2.KalmanFilter(4, 2) as the original). */
export class CornerKalman {
  private x: number[];
  private p: number[][];

  constructor(
    x0: number,
    y0: number,
    private readonly q: number,
    private readonly r = 1,
  ) {
    this.x = [x0, y0, 0, 0];
    this.p = [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ];
  }

  /**
   * Predict one frame ahead, then correct with the measurement; returns the filtered position. (upstream calls
   * correct() then predict() and uses the prediction, one frame of velocity ahead of this: on the sample clip that
   * led the face and jittered more, 1.13 vs 1.01 px at 1e-3, so the filtered position is used.)
   */
  update(mx: number, my: number): [number, number] {
    // Predict: x = F x, P = F P F^T + Q, with F = [[1,0,1,0],[0,1,0,1],[0,0,1,0],[0,0,0,1]].
    const [px, py, vx, vy] = this.x as [number, number, number, number];
    this.x = [px + vx, py + vy, vx, vy];
    const P = this.p;
    const FP = [0, 1, 2, 3].map((i) =>
      [0, 1, 2, 3].map((j) => (P[i]?.[j] as number) + (i < 2 ? (P[i + 2]?.[j] as number) : 0)),
    );
    const FPFt = [0, 1, 2, 3].map((i) =>
      [0, 1, 2, 3].map((j) => (FP[i]?.[j] as number) + (j < 2 ? (FP[i]?.[j + 2] as number) : 0)),
    );
    for (let i = 0; i < 4; i += 1) (FPFt[i] as number[])[i] = (FPFt[i]?.[i] as number) + this.q;
    // Update with H = [[1,0,0,0],[0,1,0,0]]: S = P[0:2,0:2] + R, K = P[:,0:2] S^-1.
    const s00 = (FPFt[0]?.[0] as number) + this.r;
    const s01 = FPFt[0]?.[1] as number;
    const s10 = FPFt[1]?.[0] as number;
    const s11 = (FPFt[1]?.[1] as number) + this.r;
    const det = s00 * s11 - s01 * s10;
    const inv = [
      [s11 / det, -s01 / det],
      [-s10 / det, s00 / det],
    ];
    const K = FPFt.map((row) => [
      (row[0] as number) * (inv[0]?.[0] as number) + (row[1] as number) * (inv[1]?.[0] as number),
      (row[0] as number) * (inv[0]?.[1] as number) + (row[1] as number) * (inv[1]?.[1] as number),
    ]);
    const yx = mx - (this.x[0] as number);
    const yy = my - (this.x[1] as number);
    this.x = this.x.map((v, i) => v + (K[i]?.[0] as number) * yx + (K[i]?.[1] as number) * yy);
    // P = (I - K H) P
    this.p = [0, 1, 2, 3].map((i) =>
      [0, 1, 2, 3].map(
        (j) =>
          (FPFt[i]?.[j] as number) -
          (K[i]?.[0] as number) * (FPFt[0]?.[j] as number) -
          (K[i]?.[1] as number) * (FPFt[1]?.[j] as number),
      ),
    );
    return [this.x[0] as number, this.x[1] as number];
  }
}

export interface SmoothingOptions {
  useKalman: boolean;
  kfNoiseCoef: number;
  movingAverageCoef: number;
  enabled: boolean;
}

/**
 * Smooth a track of boxes (null where the face is absent; smoothing restarts after a gap).
 * The Kalman filter is warmed up on the first box of each run, as the original does.
 */
export function smoothBoxes(boxes: ReadonlyArray<Box | null>, options: SmoothingOptions): Array<Box | null> {
  if (!options.enabled) return [...boxes];
  let tl: CornerKalman | null = null;
  let br: CornerKalman | null = null;
  let prev: Box | null = null;
  return boxes.map((box) => {
    if (!box) {
      tl = br = null;
      prev = null;
      return null;
    }
    const x2 = box.x + box.width;
    const y2 = box.y + box.height;
    if (options.useKalman) {
      if (!tl || !br) {
        tl = new CornerKalman(box.x, box.y, options.kfNoiseCoef);
        br = new CornerKalman(x2, y2, options.kfNoiseCoef);
        // Warm-up: a few updates on the first measurement settle the covariance.
        for (let i = 0; i < 10; i += 1) {
          tl.update(box.x, box.y);
          br.update(x2, y2);
        }
      }
      const [ax, ay] = tl.update(box.x, box.y);
      const [bx, by] = br.update(x2, y2);
      return { x: ax, y: ay, width: bx - ax, height: by - ay };
    }
    const c = options.movingAverageCoef;
    const next: Box = prev
      ? {
          x: c * prev.x + (1 - c) * box.x,
          y: c * prev.y + (1 - c) * box.y,
          width: c * prev.width + (1 - c) * box.width,
          height: c * prev.height + (1 - c) * box.height,
        }
      : box;
    prev = next;
    return next;
  });
}

/**
 * Jitter of tracked points: the mean size of their second difference over runs of present frames (pixels).
 * Steady motion is no jitter; its frame-to-frame changes are. Each frame gives one or more points (all present or
 * the frame is absent).
 */
export function pointJitter(frames: ReadonlyArray<readonly Point[] | null>): number {
  let sum = 0;
  let n = 0;
  for (let i = 2; i < frames.length; i += 1) {
    const [c, a, b] = [frames[i - 2], frames[i - 1], frames[i]];
    if (!a || !b || !c) continue;
    for (let k = 0; k < b.length; k += 1) {
      const [p0, p1, p2] = [c[k] as Point, a[k] as Point, b[k] as Point];
      sum += Math.hypot(p2[0] - 2 * p1[0] + p0[0], p2[1] - 2 * p1[1] + p0[1]);
      n += 1;
    }
  }
  return n === 0 ? 0 : sum / n;
}

/** Jitter of the box centre (the detector's box: it only seeds the landmarks). */
export function jitter(boxes: ReadonlyArray<Box | null>): number {
  return pointJitter(boxes.map((b) => (b ? [[b.x + b.width / 2, b.y + b.height / 2] as Point] : null)));
}

/** Jitter of the placed face: its patch's corners, frame to frame. */
export function placementJitter(placements: ReadonlyArray<Affine | null>, size: number): number {
  return pointJitter(placements.map((t) => (t ? patchCorners(t, size) : null)));
}

/** The similarity (frame -> patch) that puts patch points (0, 0) and (size, 0) at frame points a and b. */
export function placementFromAnchors(a: Point, b: Point, size: number): Affine {
  const c = (b[0] - a[0]) / size;
  const s = (b[1] - a[1]) / size;
  // patch -> frame: [c, -s, ax; s, c, ay]
  return invertAffine([c, -s, a[0], s, c, a[1]]);
}

/**
 * Kalman smoothing (Rauch-Tung-Striebel) of one coordinate over a run of frames: the constant-velocity filter of
 * upstream (process noise q on position and velocity, measurement noise 1), run forward, then corrected backward
 * with what the later frames saw. The forward filter alone lags a moving face; the backward pass removes the lag.
 */
export function kalmanSmooth(z: readonly number[], q: number): number[] {
  const n = z.length;
  if (n === 0) return [];
  type M = [number, number, number, number]; // [p00, p01, p10, p11]
  const xPred: Array<[number, number]> = [];
  const pPred: M[] = [];
  const xFilt: Array<[number, number]> = [];
  const pFilt: M[] = [];
  let x: [number, number] = [z[0] as number, 0];
  let p: M = [1, 0, 0, 1];
  for (let t = 0; t < n; t += 1) {
    // Predict with F = [[1, 1], [0, 1]]: x = F x, P = F P F^T + q I (the first frame is its own prior).
    const xp: [number, number] = t === 0 ? x : [x[0] + x[1], x[1]];
    const pp: M = t === 0 ? p : [p[0] + p[1] + p[2] + p[3] + q, p[1] + p[3], p[2] + p[3], p[3] + q];
    xPred.push(xp);
    pPred.push(pp);
    // Correct with H = [1, 0], R = 1.
    const s = pp[0] + 1;
    const k0 = pp[0] / s;
    const k1 = pp[2] / s;
    const y = (z[t] as number) - xp[0];
    x = [xp[0] + k0 * y, xp[1] + k1 * y];
    p = [(1 - k0) * pp[0], (1 - k0) * pp[1], pp[2] - k1 * pp[0], pp[3] - k1 * pp[1]];
    xFilt.push(x);
    pFilt.push(p);
  }
  const out = xFilt.map((v) => [...v] as [number, number]);
  for (let t = n - 2; t >= 0; t -= 1) {
    const pf = pFilt[t] as M;
    const pn = pPred[t + 1] as M;
    // C = Pf F^T Pn^-1
    const a: M = [pf[0] + pf[1], pf[1], pf[2] + pf[3], pf[3]];
    const det = pn[0] * pn[3] - pn[1] * pn[2];
    const inv: M = [pn[3] / det, -pn[1] / det, -pn[2] / det, pn[0] / det];
    const c: M = [
      a[0] * inv[0] + a[1] * inv[2],
      a[0] * inv[1] + a[1] * inv[3],
      a[2] * inv[0] + a[3] * inv[2],
      a[2] * inv[1] + a[3] * inv[3],
    ];
    const next = out[t + 1] as [number, number];
    const pred = xPred[t + 1] as [number, number];
    const d0 = next[0] - pred[0];
    const d1 = next[1] - pred[1];
    const f = xFilt[t] as [number, number];
    out[t] = [f[0] + c[0] * d0 + c[1] * d1, f[1] + c[2] * d0 + c[3] * d1];
  }
  return out.map((v) => v[0]);
}

/**
 * Smooths where the swapped face is placed over the whole clip. The face is placed by each frame's landmark
 * alignment, whose frame-to-frame noise would shake it; as upstream smooths its box's two corners, this smooths two
 * anchors of the placement (the patch's top corners; a similarity is fixed by two points). Conversion is offline,
 * so the Kalman filter is run as a smoother (forward and backward, no lag) rather than upstream's causal filter,
 * on the anchors in frame pixels. With the moving average (use_kalman_filter off) it is upstream's causal average.
 * A gap in the track starts a new run.
 */
export function smoothPlacements(
  measured: ReadonlyArray<Affine | null>,
  options: SmoothingOptions,
  size: number,
): Array<Affine | null> {
  if (!options.enabled) return [...measured];
  const out: Array<Affine | null> = measured.map(() => null);
  for (let start = 0; start < measured.length;) {
    if (!measured[start]) {
      start += 1;
      continue;
    }
    let end = start;
    while (end < measured.length && measured[end]) end += 1;
    const run = measured.slice(start, end) as Affine[];
    const anchors = run.map((m) => patchCorners(m, size).slice(0, 2) as [Point, Point]);
    const series = (k: 0 | 1, axis: 0 | 1): number[] => anchors.map((a) => a[k][axis]);
    const smooth = (values: number[]): number[] => {
      if (options.useKalman) return kalmanSmooth(values, options.kfNoiseCoef);
      const c = options.movingAverageCoef;
      let previous = values[0] as number;
      return values.map((v) => (previous = c * previous + (1 - c) * v));
    };
    const [ax, ay, bx, by] = [series(0, 0), series(0, 1), series(1, 0), series(1, 1)].map(smooth) as [
      number[],
      number[],
      number[],
      number[],
    ];
    for (let i = 0; i < run.length; i += 1)
      out[start + i] = placementFromAnchors(
        [ax[i] as number, ay[i] as number],
        [bx[i] as number, by[i] as number],
        size,
      );
    start = end;
  }
  return out;
}
