import { promises as fs, readdirSync, type Dirent } from 'node:fs';
import path from 'node:path';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff']);

/** The images of a folder, in frame order: name order, numbers compared as numbers (frame2 before frame10). */
function imagesOf(folder: string, entries: readonly Dirent[]): string[] {
  return entries
    .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase()))
    .map((e) => path.join(folder, e.name))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

export async function listImages(folder: string): Promise<string[]> {
  return imagesOf(folder, await fs.readdir(folder, { withFileTypes: true }));
}

/** listImages, synchronously (the project index names an image folder's frames by it). */
export function listImagesSync(folder: string): string[] {
  return imagesOf(folder, readdirSync(folder, { withFileTypes: true }));
}
