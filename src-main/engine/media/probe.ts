import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { ErrorCode, StudioError, type MediaInfo } from '../../../src-shared/contract/index.js';
import { IMAGE_EXTENSIONS, listImages } from './image-list.js';
import { requireTool } from './tools.js';

const execFileAsync = promisify(execFile);

export { IMAGE_EXTENSIONS, listImages, listImagesSync } from './image-list.js';

export interface ProbedSource {
  kind: 'video' | 'images';
  path: string;
  media: MediaInfo;
  /** For image folders: the sorted image files, one per frame. */
  images: string[];
}

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  duration?: string;
  tags?: Record<string, string>;
  side_data_list?: Array<{ rotation?: number }>;
}

function parseRate(rate: string | undefined): number {
  if (!rate) return 0;
  const [num, den] = rate.split('/').map(Number);
  if (num === undefined || !Number.isFinite(num)) return 0;
  if (den === undefined) return num;
  return den > 0 ? num / den : 0;
}

const badMediaFix = 'choose a readable video (mp4, mov, mkv, webm...) or a folder of images';

/** The rotation (degrees, normalised to 0/90/180/270) that a player applies to this stream. */
export function streamRotation(stream: FfprobeStream): number {
  const fromSide = stream.side_data_list?.find((s) => typeof s.rotation === 'number')?.rotation;
  const fromTag = stream.tags?.rotate !== undefined ? Number(stream.tags.rotate) : undefined;
  const raw = fromSide !== undefined ? -fromSide : (fromTag ?? 0);
  return (((Math.round(raw / 90) * 90) % 360) + 360) % 360;
}

export async function probeVideo(file: string): Promise<MediaInfo> {
  const ffprobe = requireTool('ffprobe');
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(
      ffprobe,
      ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', file],
      { maxBuffer: 16 * 1024 * 1024, timeout: 60_000 },
    ));
  } catch (error) {
    // ffprobe's words ("moov atom not found", addresses) mean little to most people: they go to the details.
    const details = String((error as { stderr?: string }).stderr ?? (error as Error).message)
      .trim()
      .slice(-2000);
    throw new StudioError(ErrorCode.badMedia, `${file} is not a readable video`, {
      file,
      fix: `${badMediaFix}; a video that is still downloading or was cut short cannot be read`,
      ...(details ? { details } : {}),
    });
  }
  const parsed = JSON.parse(stdout) as {
    streams?: FfprobeStream[];
    format?: { duration?: string; format_name?: string };
  };
  const streams = parsed.streams ?? [];
  const video = streams.find((s) => s.codec_type === 'video' && (s.width ?? 0) > 0);
  if (!video || !video.width || !video.height) {
    throw new StudioError(ErrorCode.badMedia, `${file} has no video stream`, { file, fix: badMediaFix });
  }
  const fps = parseRate(video.avg_frame_rate) || parseRate(video.r_frame_rate);
  const duration = Number(video.duration ?? parsed.format?.duration ?? 0) || 0;
  const counted = Number(video.nb_frames ?? NaN);
  const frameCount = Number.isFinite(counted) && counted > 0 ? counted : Math.round(duration * fps);
  if (fps <= 0 || frameCount <= 0) {
    throw new StudioError(ErrorCode.badMedia, `${file} has no decodable frames (zero-length or truncated video)`, {
      file,
      fix: badMediaFix,
    });
  }
  const rotation = streamRotation(video);
  const swap = rotation === 90 || rotation === 270;
  return {
    width: video.width,
    height: video.height,
    displayWidth: swap ? video.height : video.width,
    displayHeight: swap ? video.width : video.height,
    rotation,
    fps,
    frameRate: video.avg_frame_rate && parseRate(video.avg_frame_rate) > 0 ? video.avg_frame_rate : video.r_frame_rate,
    frameCount,
    durationSeconds: duration,
    hasAudio: streams.some((s) => s.codec_type === 'audio'),
    codec: video.codec_name ?? 'unknown',
  };
}

/** A video file or a folder of images, probed; errors name the file and the fix. */
export async function probeSource(input: string): Promise<ProbedSource> {
  const absolute = path.resolve(input);
  let stat;
  try {
    stat = await fs.stat(absolute);
  } catch {
    throw new StudioError(ErrorCode.notFound, `${absolute} does not exist`, { file: absolute, fix: 'check the path' });
  }
  if (stat.isDirectory()) {
    const images = await listImages(absolute);
    if (images.length === 0) {
      throw new StudioError(ErrorCode.badMedia, `${absolute} contains no images`, {
        file: absolute,
        fix: `put ${[...IMAGE_EXTENSIONS].join('/')} files in the folder, or choose a video`,
      });
    }
    const first = await firstReadableImage(images);
    return {
      kind: 'images',
      path: absolute,
      images,
      media: {
        width: first.width,
        height: first.height,
        displayWidth: first.width,
        displayHeight: first.height,
        rotation: 0,
        fps: 1,
        frameCount: images.length,
        durationSeconds: images.length,
        hasAudio: false,
        codec: 'images',
      },
    };
  }
  if (stat.size === 0) {
    throw new StudioError(ErrorCode.badMedia, `${absolute} is empty (0 bytes)`, { file: absolute, fix: badMediaFix });
  }
  if (IMAGE_EXTENSIONS.has(path.extname(absolute).toLowerCase())) {
    throw new StudioError(
      ErrorCode.badMedia,
      `${absolute} is a single image; a side needs a video or a folder of images`,
      {
        file: absolute,
        fix: 'put the image(s) in a folder and choose the folder',
      },
    );
  }
  return { kind: 'video', path: absolute, images: [], media: await probeVideo(absolute) };
}

async function firstReadableImage(images: string[]): Promise<{ width: number; height: number }> {
  for (const image of images) {
    try {
      const meta = await sharp(image).rotate().metadata();
      if (meta.width && meta.height) {
        const swap = (meta.orientation ?? 1) >= 5;
        return swap ? { width: meta.height, height: meta.width } : { width: meta.width, height: meta.height };
      }
    } catch {
      /* try the next one; unreadable images are reported per frame during extraction */
    }
  }
  throw new StudioError(ErrorCode.badMedia, `no readable image in ${path.dirname(images[0] ?? '.')}`, {
    file: path.dirname(images[0] ?? '.'),
    fix: 'check that the images are valid JPEG/PNG files',
  });
}
