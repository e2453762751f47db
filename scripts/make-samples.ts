/**
 * Builds resources/samples from the public-domain media in ../shared/media (run once; outputs are committed):
 * sample-a.mp4 is the White House performance clip as published; sample-b.mp4 is a short clip synthesised from
 * two official portraits (slow pans, zooms and small rotations, as a camera would).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { rawRgbInputArgs } from '../src-main/engine/media/ffmpeg-args.js';
import { resolveTools } from '../src-main/engine/media/tools.js';

const shared = path.resolve('../shared/media');
const out = path.resolve('resources/samples');
mkdirSync(out, { recursive: true });
copyFileSync(path.join(shared, 'whitehouse_performance_360p.mp4'), path.join(out, 'sample-a.mp4'));

const W = 640;
const H = 360;
const FPS = 15;
const ffmpeg = resolveTools().ffmpeg as string;
const enc = spawn(ffmpeg, [
  '-v',
  'error',
  '-y',
  ...rawRgbInputArgs(W, H, FPS),
  '-c:v',
  'libx264',
  '-crf',
  '23',
  '-pix_fmt',
  'yuv420p',
  '-movflags',
  '+faststart',
  path.join(out, 'sample-b.mp4'),
]);
const stills = [
  { file: 'b_biden_2.jpg', face: { x: 660, y: 520, size: 560 } },
  { file: 'b_biden_1.jpg', face: { x: 558, y: 384, size: 300 } },
];
for (const [k, still] of stills.entries()) {
  const frames = 45;
  for (let i = 0; i < frames; i += 1) {
    const t = i / (frames - 1);
    const zoom = 1.7 + 0.4 * Math.sin(t * Math.PI) + k * 0.3;
    const side = still.face.size * zoom;
    const cx = still.face.x + Math.sin(t * 2 * Math.PI) * still.face.size * 0.08;
    const cy = still.face.y + Math.cos(t * 2 * Math.PI) * still.face.size * 0.05;
    const angle = Math.sin(t * 3 * Math.PI) * 4;
    const meta = await sharp(path.join(shared, still.file)).metadata();
    const w = Math.round(side * (W / H));
    const h = Math.round(side);
    const left = Math.max(0, Math.min((meta.width ?? 0) - w, Math.round(cx - w / 2)));
    const top = Math.max(0, Math.min((meta.height ?? 0) - h, Math.round(cy - h / 2)));
    const frame = await sharp(path.join(shared, still.file))
      .extract({ left, top, width: Math.min(w, meta.width ?? w), height: Math.min(h, meta.height ?? h) })
      .rotate(angle, { background: '#202020' })
      .resize(W, H, { fit: 'cover' })
      .modulate({ brightness: 0.95 + 0.1 * t })
      .removeAlpha()
      .raw()
      .toBuffer();
    if (!enc.stdin.write(frame)) await new Promise((r) => enc.stdin.once('drain', r));
  }
}
enc.stdin.end();
await new Promise((r) => enc.on('close', r));
console.log('samples written to', out);
