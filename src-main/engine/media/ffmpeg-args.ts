/**
 * ffmpeg argument lists shared by the engine, the bench, the scripts and the tests, so that a frame format or an
 * export setting is written once.
 */

/** Packed RGB, 3 bytes a pixel: the frames every stage reads and writes. */
const RAW_RGB = ['-f', 'rawvideo', '-pix_fmt', 'rgb24'];

/**
 * Decode the first video stream of `input` into packed RGB frames as the file presents them (no frames dropped or
 * duplicated), optionally through a filter (frame selection).
 */
export function rawRgbDecodeArgs(
  input: string,
  options: { filter?: string; output?: string; inputFormat?: string; seekSeconds?: number } = {},
): string[] {
  return [
    '-v',
    'error',
    // Reading a stream from stdin (pipe:0) needs stdin.
    ...(input === 'pipe:0' ? [] : ['-nostdin']),
    ...(options.inputFormat ? ['-f', options.inputFormat] : []),
    // Seek on the stream's own clock (not offset by the file's start time); frames before the time are decoded from
    // the keyframe before it and dropped (ffmpeg's accurate seek), so the first frame out is the first at or after it.
    ...(options.seekSeconds !== undefined ? ['-seek_timestamp', '1', '-ss', String(options.seekSeconds)] : []),
    '-i',
    input,
    '-map',
    '0:v:0',
    ...(options.filter ? ['-vf', options.filter] : []),
    '-vsync',
    'passthrough',
    ...RAW_RGB,
    options.output ?? 'pipe:1',
  ];
}

/** Packed RGB frames of one size on stdin, at a constant rate (a number, or ffmpeg's rational "30000/1001"). */
export function rawRgbInputArgs(width: number, height: number, rate: number | string): string[] {
  return [...RAW_RGB, '-s', `${width}x${height}`, '-r', String(rate), '-i', 'pipe:0'];
}

/** H.264 as exports are written: fast, and at quality 16 visually lossless on faces (`crf` lower is better). */
export function h264Args(crf = 16): string[] {
  return ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', String(crf), '-pix_fmt', 'yuv420p'];
}
