import type { ProjectSource } from '../../src-shared/contract/index.js';

/** Probe facts of a small 640 x 360 video, for projects whose media the test never reads. */
export const VIDEO_MEDIA = {
  width: 640,
  height: 360,
  displayWidth: 640,
  displayHeight: 360,
  rotation: 0,
  fps: 30,
  frameCount: 10,
  durationSeconds: 1 / 3,
  hasAudio: false,
  codec: 'h264',
};

/** Sources for a project created in a test: a video on side A, an image folder on side B. */
export const projectSources = (): { a: ProjectSource; b: ProjectSource } => ({
  a: { side: 'a', kind: 'video', path: '/videos/a.mp4', media: VIDEO_MEDIA },
  b: { side: 'b', kind: 'images', path: '/faces/b', media: VIDEO_MEDIA },
});
