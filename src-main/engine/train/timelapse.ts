/**
 * A run's preview history as a timelapse, as faceswap records one, so users see the model learn: each preview
 * captioned with its iteration, in order, as an MP4 (ffmpeg) or an animated WebP (sharp), written atomically into
 * the run's preview folder.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { ErrorCode, StudioError } from '../../../src-shared/contract/index.js';
import { reserveTempPath, writeFileAtomic } from '../io/atomic.js';
import { requireTool } from '../media/tools.js';
import { RunsRepo } from '../project/runs-repo.js';
import type { ProjectStore } from '../project/store.js';

const execFileAsync = promisify(execFile);

export type TimelapseFormat = 'mp4' | 'webp';

export interface Timelapse {
  runId: number;
  /** Project-relative path of the file. */
  path: string;
  frames: number;
  format: TimelapseFormat;
}

/** One preview with "run N · iteration I" in a band under it. */
async function captioned(file: string, caption: string): Promise<{ data: Buffer; width: number; height: number }> {
  const image = sharp(file).removeAlpha();
  const meta = await image.metadata();
  const width = meta.width ?? 0;
  const band = Math.max(18, Math.round(width * 0.02));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${band}"><rect width="100%" height="100%" fill="#111318"/><text x="8" y="50%" dominant-baseline="central" font-family="DejaVu Sans, Arial, sans-serif" font-size="${Math.round(band * 0.62)}" fill="#e6e6e6">${caption}</text></svg>`;
  const data = await image
    .extend({ bottom: band, background: '#111318' })
    .composite([{ input: Buffer.from(svg), gravity: 'southwest' }])
    .raw()
    .toBuffer({ resolveWithObject: true });
  // Even sides for yuv420p.
  const evenW = data.info.width - (data.info.width % 2);
  const evenH = data.info.height - (data.info.height % 2);
  const even = await sharp(data.data, { raw: { width: data.info.width, height: data.info.height, channels: 3 } })
    .extract({ left: 0, top: 0, width: evenW, height: evenH })
    .png()
    .toBuffer();
  return { data: even, width: evenW, height: evenH };
}

export async function makeTimelapse(
  store: ProjectStore,
  options: { runId?: number; format?: TimelapseFormat; framesPerSecond?: number } = {},
): Promise<Timelapse> {
  const format = options.format ?? 'mp4';
  const fps = options.framesPerSecond ?? 4;
  const runs = new RunsRepo(store.db);
  const run = options.runId ?? runs.latestId();
  if (run === undefined)
    throw new StudioError(ErrorCode.notFound, 'the project has no training run yet', {
      fix: 'train the project first',
    });
  const previews = runs.previews(run);
  const present: typeof previews = [];
  for (const p of previews) if (await fs.stat(path.join(store.dir, p.path)).catch(() => null)) present.push(p);
  if (present.length < 2)
    throw new StudioError(ErrorCode.notFound, `run ${run} has ${present.length} preview(s): a timelapse needs two`, {
      fix: 'train longer, or lower "preview every" so the run records more previews',
    });
  const rel = path.posix.join('previews', `run-${run}`, `timelapse.${format}`);
  const output = path.join(store.dir, rel);
  const frames = await Promise.all(
    present.map((p) => captioned(path.join(store.dir, p.path), `run ${run} · iteration ${p.iteration}`)),
  );
  if (format === 'webp') {
    const webp = await sharp(
      frames.map((f) => f.data),
      { join: { animated: true } },
    )
      .webp({ loop: 0, delay: frames.map(() => Math.round(1000 / fps)), quality: 90 })
      .toBuffer();
    await writeFileAtomic(output, webp);
  } else {
    const work = await fs.mkdtemp(path.join(tmpdir(), 'faceparts-timelapse-'));
    try {
      await Promise.all(
        frames.map((f, i) => fs.writeFile(path.join(work, `${String(i).padStart(6, '0')}.png`), f.data)),
      );
      const temp = `${reserveTempPath(output)}.mp4`;
      try {
        await execFileAsync(requireTool('ffmpeg'), [
          '-v',
          'error',
          '-y',
          '-framerate',
          String(fps),
          '-i',
          path.join(work, '%06d.png'),
          '-c:v',
          'libx264',
          '-pix_fmt',
          'yuv420p',
          '-crf',
          '18',
          '-metadata',
          'comment=Training previews of FaceParts Studio (synthetic faces)',
          temp,
        ]);
        await fs.rename(temp, output);
      } catch (error) {
        await fs.rm(temp, { force: true });
        throw new StudioError(
          ErrorCode.ioError,
          `making ${output} failed: ${(error as Error).message.split('\n')[0] ?? ''}`,
          {
            file: output,
            fix: 'check free disk space, then try again',
          },
        );
      }
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
  }
  return { runId: run, path: rel, frames: frames.length, format };
}
