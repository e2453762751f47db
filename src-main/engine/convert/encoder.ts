import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ErrorCode, StudioError } from '../../../src-shared/contract/index.js';
import { reserveTempPath } from '../io/atomic.js';
import { requireTool } from '../media/tools.js';

/** Frame rate as ffmpeg wants it: NTSC rates as exact fractions. */
export function rateArgument(fps: number, exact?: string): string {
  if (exact && /^\d+\/\d+$/.test(exact) && !exact.endsWith('/0')) return exact;
  const ntsc = fps * 1.001;
  if (Math.abs(ntsc - Math.round(ntsc)) < 0.01) return `${Math.round(ntsc) * 1000}/1001`;
  return String(Math.round(fps * 1000) / 1000);
}

/**
 * Encodes raw RGB frames with ffmpeg into a temp file beside the output, copying the source's audio and
 * marking the file as synthetic; `finish` renames it into place, `abort` removes it (no half file is left).
 */
export class VideoWriter {
  private readonly child: ChildProcess;
  private readonly done: Promise<number | null>;
  private stderr = '';
  readonly temp: string;

  constructor(
    readonly output: string,
    width: number,
    height: number,
    fps: number,
    audioFrom: string | null,
    exactRate?: string,
  ) {
    const ffmpeg = requireTool('ffmpeg');
    const ext = path.extname(output) || '.mp4';
    this.temp = `${reserveTempPath(output)}${ext}`;
    const args = [
      '-v',
      'error',
      '-y',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-s',
      `${width}x${height}`,
      '-r',
      rateArgument(fps, exactRate),
      '-i',
      'pipe:0',
    ];
    if (audioFrom) args.push('-i', audioFrom, '-map', '0:v:0', '-map', '1:a?', '-c:a', 'copy');
    args.push(
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-crf',
      '16',
      '-pix_fmt',
      'yuv420p',
      '-metadata',
      'comment=Synthetic media: face swapped with FaceParts Studio',
      '-metadata',
      'description=synthetic',
      this.temp,
    );
    this.child = spawn(ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    this.done = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  async write(rgb: Uint8Array): Promise<void> {
    const stdin = this.child.stdin;
    if (!stdin || stdin.destroyed)
      throw new StudioError(ErrorCode.ioError, `the encoder stopped: ${this.stderr.trim()}`, { file: this.output });
    if (!stdin.write(rgb)) await new Promise((resolve) => stdin.once('drain', resolve));
  }

  async finish(): Promise<void> {
    this.child.stdin?.end();
    const code = await this.done;
    if (code !== 0) {
      await fs.rm(this.temp, { force: true });
      throw new StudioError(
        ErrorCode.ioError,
        `encoding ${this.output} failed: ${this.stderr.trim().split('\n').slice(-2).join(' ')}`,
        {
          file: this.output,
          fix: 'check free disk space and that the output folder is writable',
        },
      );
    }
    await fs.rename(this.temp, this.output);
  }

  async abort(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.done;
    await fs.rm(this.temp, { force: true });
  }
}
