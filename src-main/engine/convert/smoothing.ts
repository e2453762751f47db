/** Pure box smoothing for conversion: a constant-velocity Kalman filter per box corner, or a moving average. */
import type { Box } from '../../../src-shared/math/geometry.js';

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

  /** Predict one frame ahead, then correct with the measurement; returns the filtered position. */
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

/** Mean frame-to-frame movement of the box centre over consecutive present frames (pixels). */
export function jitter(boxes: ReadonlyArray<Box | null>): number {
  let sum = 0;
  let n = 0;
  for (let i = 1; i < boxes.length; i += 1) {
    const a = boxes[i - 1];
    const b = boxes[i];
    if (!a || !b) continue;
    // Second difference: motion itself is not jitter, its changes are.
    const c = boxes[i - 2];
    if (!c) continue;
    const cx = (box: Box): number => box.x + box.width / 2;
    const cy = (box: Box): number => box.y + box.height / 2;
    sum += Math.hypot(cx(b) - 2 * cx(a) + cx(c), cy(b) - 2 * cy(a) + cy(c));
    n += 1;
  }
  return n === 0 ? 0 : sum / n;
}
