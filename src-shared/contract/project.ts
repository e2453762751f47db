import { z } from 'zod';
import { ProjectSettings, Side, TrainingSettings } from './settings.js';

/** Bumped when project.json's shape changes; the store migrates older files and refuses newer ones. */
export const PROJECT_SCHEMA_VERSION = 1;

export const SourceKind = z.enum(['video', 'images']);
export const MediaInfo = z.object({
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** Display size after rotation metadata is applied. */
  displayWidth: z.number().int().positive(),
  displayHeight: z.number().int().positive(),
  rotation: z.number().int(),
  fps: z.number().positive(),
  /** The exact rate as ffprobe states it ("2997/100", "30000/1001"), so exports keep it bit for bit. */
  frameRate: z.string().optional(),
  frameCount: z.number().int().nonnegative(),
  durationSeconds: z.number().nonnegative(),
  hasAudio: z.boolean(),
  codec: z.string(),
});
export type MediaInfo = z.infer<typeof MediaInfo>;

export const ProjectSource = z.object({
  side: Side,
  kind: SourceKind,
  /** Absolute path of the user's video or image folder; never copied or modified. */
  path: z.string().min(1),
  media: MediaInfo,
});
export type ProjectSource = z.infer<typeof ProjectSource>;

export const ProjectFile = z.object({
  schemaVersion: z.number().int().positive(),
  id: z.string().min(1),
  name: z.string().min(1).max(200),
  createdAt: z.string(),
  updatedAt: z.string(),
  sources: z.object({ a: ProjectSource, b: ProjectSource }),
  settings: ProjectSettings,
});
export type ProjectFile = z.infer<typeof ProjectFile>;

export const SideCounts = z.object({
  framesIndexed: z.number().int().nonnegative(),
  facesKept: z.number().int().nonnegative(),
  facesSkipped: z.number().int().nonnegative(),
  tracks: z.number().int().nonnegative(),
  maskEdits: z.number().int().nonnegative(),
});

/**
 * Where a Method #1 run's matched-pairs image lies, relative to the project folder: the engine writes it when the
 * run starts, the studio shows it.
 */
export function pairsImagePath(runId: number): string {
  return `previews/run-${runId}/pairs.png`;
}

export const TrainingRunSummary = z.object({
  id: z.number().int(),
  startedAt: z.string(),
  iteration: z.number().int().nonnegative(),
  targetIterations: z.number().int().positive(),
  state: z.string(),
  backend: z.string().nullable(),
  /** The training settings the run was last trained with (null when its record cannot be read). */
  settings: TrainingSettings.nullable().optional(),
  /** Project-relative path of the run's newest checkpoint (null before its first): what a warm start can take. */
  checkpoint: z.string().nullable().optional(),
  /** Where a warm-started run's weights came from: the model file, what it took, and that model's iteration. */
  startedFrom: z.object({ file: z.string(), parts: z.string(), iteration: z.number().int() }).nullable().optional(),
});

export const ProjectSummary = z.object({
  dir: z.string(),
  id: z.string(),
  name: z.string(),
  schemaVersion: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
  sources: z.object({ a: ProjectSource, b: ProjectSource }),
  settings: ProjectSettings,
  counts: z.object({ a: SideCounts, b: SideCounts }),
  trainingRuns: z.array(TrainingRunSummary),
  exports: z.array(z.object({ path: z.string(), createdAt: z.string(), segmentation: z.string() })),
});
export type ProjectSummary = z.infer<typeof ProjectSummary>;

export const RecentProject = z.object({
  dir: z.string(),
  name: z.string(),
  openedAt: z.string(),
  available: z.boolean(),
});
export type RecentProject = z.infer<typeof RecentProject>;

export const FrameStatus = z.enum(['pending', 'kept', 'skipped', 'no_face', 'absent', 'unreadable']);
export type FrameStatus = z.infer<typeof FrameStatus>;

export const FrameRecord = z.object({
  side: Side,
  index: z.number().int().nonnegative(),
  timeSeconds: z.number().nonnegative(),
  status: FrameStatus,
  reason: z.string().nullable(),
  /** Project-relative path of the thumbnail, served through the media route. */
  thumbnail: z.string().nullable(),
  faceCount: z.number().int().nonnegative(),
  /** The frame's own size in pixels (face boxes are in these), when known; images of a folder may differ. */
  width: z.number().int().positive().nullable().default(null),
  height: z.number().int().positive().nullable().default(null),
  /** For an image folder: the image's file name (a frame's time means nothing there). */
  fileName: z.string().nullable().optional(),
});
export type FrameRecord = z.infer<typeof FrameRecord>;

export const Point = z.tuple([z.number(), z.number()]);
export const Box = z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() });
export type Box = z.infer<typeof Box>;

export const FaceRecord = z.object({
  id: z.number().int(),
  side: Side,
  frameIndex: z.number().int().nonnegative(),
  trackId: z.number().int().nullable(),
  box: Box,
  score: z.number(),
  landmarks: z.array(Point).nullable(),
  crop: z.string().nullable(),
  status: FrameStatus,
  reason: z.string().nullable(),
});
export type FaceRecord = z.infer<typeof FaceRecord>;

export const MaskPart = z.enum(['eyes', 'eyebrows', 'nose', 'mouth', 'face']);
export type MaskPart = z.infer<typeof MaskPart>;

/** A hand edit of one part's mask on one face: an edited hull polygon and/or a painted raster, stored apart from generated masks. */
export const MaskEdit = z.object({
  faceId: z.number().int(),
  part: MaskPart,
  polygon: z.array(Point).nullable(),
  /** Project-relative path of an 8-bit PNG painted by brush and eraser, or null. */
  raster: z.string().nullable(),
  updatedAt: z.string(),
});
export type MaskEdit = z.infer<typeof MaskEdit>;

export const LossPoint = z.object({
  runId: z.number().int(),
  iteration: z.number().int().nonnegative(),
  losses: z.record(z.string(), z.number()),
});
export type LossPoint = z.infer<typeof LossPoint>;

export const PreviewRecord = z.object({
  runId: z.number().int(),
  iteration: z.number().int().nonnegative(),
  path: z.string(),
});
export type PreviewRecord = z.infer<typeof PreviewRecord>;
