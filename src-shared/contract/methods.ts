import { z } from 'zod';
import { BackendChoice, ConverterPatch, ProjectSettingsPatch, Side, TrainingPatch } from './settings.js';
import {
  Box,
  FaceRecord,
  FrameRecord,
  LossPoint,
  MaskEdit,
  MaskPart,
  Point,
  PreviewRecord,
  ProjectSummary,
  RecentProject,
} from './project.js';
import { JobInfo, JobSpec } from './jobs.js';
import { BackendReport, EngineStatus } from './events.js';

const ProjectRef = z.strictObject({ dir: z.string().min(1) });
const Page = {
  offset: z.number().int().nonnegative().default(0),
  limit: z.number().int().min(1).max(5000).default(500),
};

const method = <P extends z.ZodType, R extends z.ZodType>(params: P, result: R) => ({ params, result });

/**
 * Every request the renderer (or the CLI) can make of the engine: name -> params and result schemas.
 * Both ends validate against these: the receiver its params, the caller the result.
 */
export const methods = {
  'engine.info': method(
    z.strictObject({}),
    z.strictObject({
      version: z.string(),
      status: EngineStatus,
      pid: z.number().int(),
      runtime: z.enum(['electron-utility', 'node-child', 'in-process']),
      backend: BackendReport.nullable(),
      ffmpeg: z.strictObject({
        ffmpeg: z.string().nullable(),
        ffprobe: z.string().nullable(),
        tried: z.array(z.string()),
      }),
      stages: z.record(z.string(), z.boolean()),
      /** The engine process's memory, and the live tfjs tensors once a backend is up (flat over a long run). */
      memory: z
        .strictObject({ rssMB: z.number(), heapUsedMB: z.number(), tensors: z.number().int().nullable() })
        .optional(),
      /** The engine user's home folder, so the UI can show paths under it as ~/… (absent from older engines). */
      home: z.string().optional(),
      /** The face detectors the engine has (its detector registry), for the extraction setting's choices. */
      detectors: z.array(z.string().min(1)).optional(),
    }),
  ),
  'engine.probeBackend': method(z.strictObject({ force: BackendChoice.optional() }), BackendReport),
  'engine.shutdown': method(
    z.strictObject({ checkpoint: z.boolean().default(true) }),
    z.strictObject({ stopped: z.boolean() }),
  ),

  'project.list': method(z.strictObject({}), z.strictObject({ projects: z.array(RecentProject) })),
  'project.create': method(
    z.strictObject({
      dir: z.string().min(1),
      name: z.string().min(1).max(200).optional(),
      sourceA: z.string().min(1),
      sourceB: z.string().min(1),
      settings: ProjectSettingsPatch.optional(),
    }),
    ProjectSummary,
  ),
  'project.open': method(ProjectRef, ProjectSummary),
  'project.rename': method(ProjectRef.extend({ name: z.string().min(1).max(200) }), ProjectSummary),
  'project.updateSettings': method(ProjectRef.extend({ patch: ProjectSettingsPatch }), ProjectSummary),
  'project.delete': method(
    ProjectRef.extend({ confirmName: z.string() }),
    z.strictObject({
      deleted: z.boolean(),
      /**
       * What was left because the project did not write it (folders end in "/"), relative to the project folder;
       * at most 50 named. Absent from engines older than this field.
       */
      kept: z.array(z.string()).optional(),
      /** How many entries were left in all (kept names only the first 50). */
      keptCount: z.number().int().nonnegative().optional(),
      /** Whether the project folder itself went (it stays when anything the project did not write remains). */
      folderRemoved: z.boolean().optional(),
    }),
  ),
  'project.forget': method(ProjectRef, z.strictObject({ forgotten: z.boolean() })),

  'frames.list': method(
    ProjectRef.extend({ side: Side, ...Page }),
    z.strictObject({ total: z.number().int(), frames: z.array(FrameRecord) }),
  ),
  'faces.list': method(
    ProjectRef.extend({
      side: Side,
      frameIndex: z.number().int().nonnegative().optional(),
      /** Only this track's faces (one person's): the mask editor steps through them. */
      trackId: z.number().int().optional(),
      ...Page,
    }),
    z.strictObject({ total: z.number().int(), faces: z.array(FaceRecord) }),
  ),
  'faces.chooseTrack': method(
    ProjectRef.extend({ side: Side, trackId: z.number().int() }),
    z.strictObject({ side: Side, trackId: z.number().int() }),
  ),

  'faces.chooseByReference': method(
    ProjectRef.extend({ side: Side, image: z.string().min(1) }),
    z.strictObject({ side: Side, trackId: z.number().int(), distance: z.number() }),
  ),
  'masks.get': method(
    ProjectRef.extend({ faceId: z.number().int() }),
    z.strictObject({
      faceId: z.number().int(),
      generated: z.record(z.string(), z.array(Point)),
      edits: z.array(MaskEdit),
    }),
  ),
  'masks.saveEdit': method(
    ProjectRef.extend({
      faceId: z.number().int(),
      part: MaskPart,
      polygon: z.array(Point).min(3).max(2000).nullable(),
      /**
       * Base64 PNG of the painted raster (256x256: under 400 KB even uncompressed), or null to keep polygon-only.
       * Capped so a whole message stays under serve mode's WebSocket limit (MAX_MESSAGE_BYTES, 2 MiB).
       */
      rasterPng: z.string().max(1_000_000).nullable(),
    }),
    MaskEdit,
  ),
  'masks.reset': method(
    ProjectRef.extend({ faceId: z.number().int(), part: MaskPart.optional() }),
    z.strictObject({ removed: z.number().int() }),
  ),
  'masks.propagate': method(
    ProjectRef.extend({ faceId: z.number().int(), part: MaskPart, count: z.number().int().min(1).max(10_000) }),
    z.strictObject({ copied: z.number().int() }),
  ),

  'jobs.start': method(ProjectRef.extend({ job: JobSpec }), JobInfo),
  'jobs.cancel': method(z.strictObject({ jobId: z.string() }), JobInfo),
  'jobs.pause': method(z.strictObject({ jobId: z.string() }), JobInfo),
  'jobs.resume': method(z.strictObject({ jobId: z.string() }), JobInfo),
  'jobs.list': method(z.strictObject({ dir: z.string().optional() }), z.strictObject({ jobs: z.array(JobInfo) })),
  'jobs.get': method(z.strictObject({ jobId: z.string() }), JobInfo),

  'train.history': method(
    ProjectRef.extend({
      runId: z.number().int().optional(),
      sinceIteration: z.number().int().nonnegative().default(0),
    }),
    z.strictObject({ losses: z.array(LossPoint), previews: z.array(PreviewRecord) }),
  ),

  /** A run's previews as a timelapse (MP4 or animated WebP) in its preview folder. */
  'train.timelapse': method(
    ProjectRef.extend({
      runId: z.number().int().optional(),
      format: z.enum(['mp4', 'webp']).default('mp4'),
      framesPerSecond: z.number().min(0.5).max(30).default(4),
    }),
    z.strictObject({
      runId: z.number().int(),
      path: z.string(),
      frames: z.number().int(),
      format: z.enum(['mp4', 'webp']),
    }),
  ),

  /** How fast a training configuration runs on this machine (a few iterations on synthetic faces). */
  'train.estimate': method(
    z.strictObject({ overrides: TrainingPatch.default({}) }),
    z.strictObject({
      backend: z.string(),
      threads: z.number().int(),
      batch: z.number().int(),
      msPerIteration: z.number(),
      iterationsPerHour: z.number(),
      hoursTo18k: z.number(),
      samplesPerSecond: z.number(),
      timedIterations: z.number().int(),
      loaderWaitMsPerIteration: z.number(),
      kernelsPerIterationOneThread: z.number().int().nullable(),
      params: z.number().int(),
    }),
  ),

  'convert.preview': method(
    ProjectRef.extend({
      side: Side,
      frameIndex: z.number().int().nonnegative(),
      config: ConverterPatch.default({}),
    }),
    z.strictObject({
      before: z.string(),
      after: z.string(),
      /** The blend mask in the model's face patch (square; white is swapped). */
      mask: z.string(),
      /**
       * Where the converted face lies in the frame: its detected box, and the affine map [a, b, c, d, e, f] from the
       * patch's unit square (mask pixel / mask size) to frame pixels, x' = a x + b y + c, y' = d x + e y + f, that
       * places the mask over the frame. Absent from older engines.
       */
      face: z
        .strictObject({
          box: Box,
          patchToFrame: z.tuple([z.number(), z.number(), z.number(), z.number(), z.number(), z.number()]).nullable(),
        })
        .nullable()
        .optional(),
    }),
  ),
} as const;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
export type ParamsOf<M extends MethodName> = z.input<Methods[M]['params']>;
export type ParsedParamsOf<M extends MethodName> = z.output<Methods[M]['params']>;
export type ResultOf<M extends MethodName> = z.output<Methods[M]['result']>;
export const methodNames = Object.keys(methods) as MethodName[];
