import sharp from 'sharp';

export const THUMBNAIL_WIDTH = 160;

/** A small JPEG of a raw RGB frame for the timeline strip. */
export async function thumbnailJpeg(rgb: Buffer, width: number, height: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } })
    .resize({ width: Math.min(THUMBNAIL_WIDTH, width) })
    .jpeg({ quality: 70 })
    .toBuffer();
}
