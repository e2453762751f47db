import { mkdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { media } from './paths.js';

/**
 * A short "clip" of a person as an image folder, synthesised from stills: crops, scales, small rotations
 * and brightness changes (the shared media hold only a few stills per identity).
 */
export async function synthClip(dir: string, stills: string[], variants = 4): Promise<string> {
  mkdirSync(dir, { recursive: true });
  let n = 0;
  for (const still of stills) {
    const meta = await sharp(media(still)).metadata();
    const w = meta.width ?? 0;
    const h = meta.height ?? 0;
    for (let v = 0; v < variants; v += 1) {
      const angle = [-6, 0, 5, 3][v % 4] as number;
      const scale = [1, 0.8, 0.9, 0.7][v % 4] as number;
      const brightness = [1, 1.1, 0.9, 1.05][v % 4] as number;
      const cw = Math.round(w * (0.85 + 0.05 * (v % 3)));
      const ch = Math.round(h * (0.85 + 0.05 * ((v + 1) % 3)));
      await sharp(media(still))
        .extract({
          left: Math.round((w - cw) * (v % 2 ? 0.2 : 0.8)),
          top: Math.round((h - ch) * 0.3),
          width: cw,
          height: ch,
        })
        .resize({ width: Math.round(cw * scale) })
        .rotate(angle, { background: { r: 0, g: 0, b: 0 } })
        .modulate({ brightness })
        .jpeg({ quality: 90 })
        .toFile(path.join(dir, `frame${String(n).padStart(3, '0')}.jpg`));
      n += 1;
    }
  }
  return dir;
}
