/** Messages between the engine and its model workers (model-worker.ts). */
import type { ErrorInfo } from '../../../src-shared/contract/index.js';
import type { Point } from '../../../src-shared/math/geometry.js';

export interface WorkerRequest {
  id: number;
  method: string;
  args: unknown;
}

export type WorkerResponse =
  { id: number; ok: true; result: unknown; cpuMs: number } | { id: number; ok: false; error: ErrorInfo; cpuMs: number };

/** Points as one flat array (x0, y0, x1, y1, ...): cheap to pass between threads, unlike arrays of pairs. */
export function flatPoints(points: readonly (readonly [number, number])[]): Float64Array {
  const out = new Float64Array(points.length * 2);
  points.forEach(([x, y], i) => {
    out[2 * i] = x;
    out[2 * i + 1] = y;
  });
  return out;
}

export function pointsOf(flat: Float64Array): Point[] {
  return Array.from({ length: flat.length / 2 }, (_, i): Point => [flat[2 * i] as number, flat[2 * i + 1] as number]);
}
