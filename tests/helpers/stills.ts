import sharp from 'sharp';
import type { Box } from '../../src-shared/math/geometry.js';
import { media } from './paths.js';

/** A shared still as packed RGB (EXIF orientation applied, alpha dropped), as the engine reads pictures. */
export async function readStill(name: string): Promise<{ rgb: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(media(name)).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/** Faces in the shared stills, boxes checked by eye on overlays (frame pixels, square). */
export const HAND_CHECKED: Record<string, Box[]> = {
  'a_obama_1.jpg': [{ x: 369, y: 159, width: 259, height: 259 }],
  'a_obama_2.jpg': [{ x: 180, y: 294, width: 297, height: 297 }],
  'a_obama_3.jpg': [{ x: 661, y: 336, width: 261, height: 261 }],
  'a_obama_partial_face.jpg': [{ x: -41, y: 166, width: 244, height: 244 }],
  'b_biden_1.jpg': [{ x: 426, y: 252, width: 263, height: 263 }],
  'b_biden_2.jpg': [{ x: 412, y: 275, width: 493, height: 493 }],
  'two_people.jpg': [
    { x: 237, y: 74, width: 150, height: 150 },
    { x: 782, y: 96, width: 159, height: 159 },
  ],
  'astronaut_collins.png': [{ x: 173, y: 73, width: 105, height: 105 }],
};
