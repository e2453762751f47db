/**
 * The optional visible label of a conversion ("synthetic_label"): a small "SYNTHETIC MEDIA" tag in the lower left
 * corner of every output frame, beside the provenance metadata every export carries. Rendered once with sharp (SVG
 * text), alpha-blended into each frame.
 */
import sharp from 'sharp';

export interface Label {
  rgba: Uint8Array;
  width: number;
  height: number;
}

export interface Placement {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const LABEL_TEXT = 'SYNTHETIC MEDIA';

/** The label for frames `frameHeight` pixels tall: text about 4 % of the height, at least 11 px. */
export async function renderLabel(frameHeight: number): Promise<Label> {
  const size = Math.max(11, Math.round(frameHeight * 0.04));
  const pad = Math.round(size * 0.45);
  // Bold capitals with 1 px tracking run about 0.8 em each in DejaVu Sans: room for all of them.
  const width = Math.round(size * 0.8 * LABEL_TEXT.length + 2 * pad);
  const height = size + 2 * pad;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
  <rect width="100%" height="100%" rx="${pad}" fill="#000" fill-opacity="0.6"/>
  <text x="50%" y="50%" dominant-baseline="central" text-anchor="middle" font-family="DejaVu Sans, Arial, sans-serif"
    font-weight="bold" font-size="${size}" fill="#fff" letter-spacing="1">${LABEL_TEXT}</text>
</svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { rgba: new Uint8Array(data), width: info.width, height: info.height };
}

/** Lower left, a margin of half the label's height from the edges. */
export function labelPlacement(frameWidth: number, frameHeight: number, label: Label): Placement {
  const margin = Math.round(label.height / 2);
  return {
    x: Math.min(margin, Math.max(0, frameWidth - label.width)),
    y: Math.max(0, frameHeight - label.height - margin),
    width: Math.min(label.width, frameWidth),
    height: Math.min(label.height, frameHeight),
  };
}

/** Blend the label into packed RGB at `at` (modified in place). */
export function stampLabel(frame: Uint8Array, frameWidth: number, label: Label, at: Placement): void {
  for (let y = 0; y < at.height; y += 1)
    for (let x = 0; x < at.width; x += 1) {
      const s = (y * label.width + x) * 4;
      const a = (label.rgba[s + 3] as number) / 255;
      if (a === 0) continue;
      const o = ((at.y + y) * frameWidth + at.x + x) * 3;
      for (let c = 0; c < 3; c += 1)
        frame[o + c] = Math.round((label.rgba[s + c] as number) * a + (frame[o + c] as number) * (1 - a));
    }
}
