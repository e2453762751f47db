/**
 * The mask editor's zoom and pan (as DeepFaceLab's XSeg editor has): the crop is drawn `zoom` times its fitted
 * size, its top-left corner at (x, y) CSS pixels of the canvas. Zoom 1 is the whole crop fitted to the canvas.
 */
export interface CanvasView {
  zoom: number;
  x: number;
  y: number;
}

export const FIT: CanvasView = { zoom: 1, x: 0, y: 0 };
export const MAX_ZOOM = 8;

/** Keeps the crop covering the canvas (no empty margin once zoomed in). */
function clamp(view: CanvasView, size: number): CanvasView {
  const zoom = Math.min(MAX_ZOOM, Math.max(1, view.zoom));
  const least = size - size * zoom;
  return { zoom, x: Math.min(0, Math.max(least, view.x)), y: Math.min(0, Math.max(least, view.y)) };
}

/** Zoom by `factor` keeping the point under (px, py) (canvas CSS pixels) in place. */
export function zoomAround(view: CanvasView, factor: number, px: number, py: number, size: number): CanvasView {
  const zoom = Math.min(MAX_ZOOM, Math.max(1, view.zoom * factor));
  const cx = (px - view.x) / view.zoom;
  const cy = (py - view.y) / view.zoom;
  return clamp({ zoom, x: px - cx * zoom, y: py - cy * zoom }, size);
}

export function panView(view: CanvasView, dx: number, dy: number, size: number): CanvasView {
  return clamp({ zoom: view.zoom, x: view.x + dx, y: view.y + dy }, size);
}

/** A canvas point (CSS pixels) in the fitted, unzoomed drawing's CSS pixels. */
export function unzoom(view: CanvasView, px: number, py: number): [number, number] {
  return [(px - view.x) / view.zoom, (py - view.y) / view.zoom];
}
