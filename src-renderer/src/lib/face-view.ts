import type { Box } from '../../../src-shared/contract/index.js';

/** What the face view shows: a centre in frame pixels and the visible height; the width follows the view's shape. */
export interface FaceViewState {
  cx: number;
  cy: number;
  /** Visible height in frame pixels. */
  size: number;
}

export interface ViewBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface FrameSize {
  width: number;
  height: number;
}

/** The SVG transform for an affine [a, b, c, d, e, f] (x' = a x + b y + c, y' = d x + e y + f). */
export function svgMatrix(m: readonly number[]): string {
  const [a = 1, b = 0, c = 0, d = 0, e = 1, f = 0] = m;
  return `matrix(${a} ${d} ${b} ${e} ${c} ${f})`;
}

/** The face region: the detected box and the model's patch (its four corners in the frame), together. */
export function faceRegion(box: Box | null, patchToFrame: readonly number[] | null, frame: FrameSize): Box {
  const xs: number[] = [];
  const ys: number[] = [];
  if (box) {
    xs.push(box.x, box.x + box.width);
    ys.push(box.y, box.y + box.height);
  }
  if (patchToFrame && patchToFrame.length === 6) {
    const [a, b, c, d, e, f] = patchToFrame as [number, number, number, number, number, number];
    for (const [u, v] of [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ] as const) {
      xs.push(a * u + b * v + c);
      ys.push(d * u + e * v + f);
    }
  }
  if (xs.length === 0) return { x: 0, y: 0, width: frame.width, height: frame.height };
  const x = Math.max(0, Math.min(...xs));
  const y = Math.max(0, Math.min(...ys));
  return {
    x,
    y,
    width: Math.max(1, Math.min(frame.width, Math.max(...xs)) - x),
    height: Math.max(1, Math.min(frame.height, Math.max(...ys)) - y),
  };
}

/** The face region with a margin, fitted to a view of this shape (width / height). */
export function fitFace(region: Box, aspect: number, frame: FrameSize, margin = 1.25): FaceViewState {
  const size = Math.max(region.height, region.width / aspect) * margin;
  return clampView({ cx: region.x + region.width / 2, cy: region.y + region.height / 2, size }, aspect, frame);
}

/** No smaller than 12 px of frame, no larger than the whole frame; the centre stays on the frame. */
export function clampView(view: FaceViewState, aspect: number, frame: FrameSize): FaceViewState {
  const largest = Math.max(frame.height, frame.width / aspect);
  const size = Math.min(largest, Math.max(12, view.size));
  return {
    cx: Math.min(frame.width, Math.max(0, view.cx)),
    cy: Math.min(frame.height, Math.max(0, view.cy)),
    size,
  };
}

export function viewBoxOf(view: FaceViewState, aspect: number): ViewBox {
  const width = view.size * aspect;
  return { x: view.cx - width / 2, y: view.cy - view.size / 2, width, height: view.size };
}

/** Zoom by `factor` (< 1 zooms in) keeping the frame point under the pointer (fx, fy: 0..1 of the view) in place. */
export function zoomAt(
  view: FaceViewState,
  factor: number,
  fx: number,
  fy: number,
  aspect: number,
  frame: FrameSize,
): FaceViewState {
  const box = viewBoxOf(view, aspect);
  const px = box.x + fx * box.width;
  const py = box.y + fy * box.height;
  const size = clampView({ ...view, size: view.size * factor }, aspect, frame).size;
  const width = size * aspect;
  return clampView({ cx: px - fx * width + width / 2, cy: py - fy * size + size / 2, size }, aspect, frame);
}

/** Move the view by (dx, dy) frame pixels. */
export function panBy(view: FaceViewState, dx: number, dy: number, aspect: number, frame: FrameSize): FaceViewState {
  return clampView({ cx: view.cx + dx, cy: view.cy + dy, size: view.size }, aspect, frame);
}
