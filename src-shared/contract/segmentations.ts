/**
 * The converter's segmentation choices, declared once: the face-parts fork's SegmentationType names (ALL,
 * EYES_ONLY, ... MOUTH_AND_EYEBROWS, with its empty MOUTH_AND_EYEBROWS mask fixed), then the further combinations
 * this studio adds; each with the parts it blends, the names earlier versions of the studio wrote (still accepted
 * in project.json, the CLI and the contract) and the label the studio shows. Plain data, without the schema
 * library: the mask code (and the model workers that draw masks) reads it without loading zod; settings.ts builds the
 * schema from it.
 */
export const SEGMENTATIONS = [
  { name: 'ALL', parts: ['face'], aliases: ['FACE'], label: 'Whole face' },
  { name: 'EYES_ONLY', parts: ['eyes'], aliases: ['EYES'], label: 'Eyes' },
  { name: 'EYEBROWS_ONLY', parts: ['eyebrows'], aliases: ['EYEBROWS'], label: 'Eyebrows' },
  { name: 'NOSE_ONLY', parts: ['nose'], aliases: ['NOSE'], label: 'Nose' },
  { name: 'MOUTH_ONLY', parts: ['mouth'], aliases: ['MOUTH'], label: 'Mouth' },
  { name: 'EYES_AND_EYEBROWS', parts: ['eyes', 'eyebrows'], aliases: [], label: 'Eyes and eyebrows' },
  { name: 'EYES_AND_MOUTH', parts: ['eyes', 'mouth'], aliases: [], label: 'Eyes and mouth' },
  { name: 'EYES_AND_NOSE', parts: ['eyes', 'nose'], aliases: [], label: 'Eyes and nose' },
  { name: 'EYEBROWS_AND_NOSE', parts: ['eyebrows', 'nose'], aliases: [], label: 'Eyebrows and nose' },
  { name: 'MOUTH_AND_NOSE', parts: ['mouth', 'nose'], aliases: ['NOSE_AND_MOUTH'], label: 'Nose and mouth' },
  { name: 'MOUTH_AND_EYEBROWS', parts: ['mouth', 'eyebrows'], aliases: [], label: 'Eyebrows and mouth' },
  {
    name: 'EYES_EYEBROWS_AND_NOSE',
    parts: ['eyes', 'eyebrows', 'nose'],
    aliases: [],
    label: 'Eyes, eyebrows and nose',
  },
  {
    name: 'EYES_EYEBROWS_AND_MOUTH',
    parts: ['eyes', 'eyebrows', 'mouth'],
    aliases: [],
    label: 'Eyes, eyebrows and mouth',
  },
  { name: 'EYES_NOSE_AND_MOUTH', parts: ['eyes', 'nose', 'mouth'], aliases: [], label: 'Eyes, nose and mouth' },
  {
    name: 'EYEBROWS_NOSE_AND_MOUTH',
    parts: ['eyebrows', 'nose', 'mouth'],
    aliases: [],
    label: 'Eyebrows, nose and mouth',
  },
  {
    name: 'EYES_EYEBROWS_NOSE_AND_MOUTH',
    parts: ['eyes', 'eyebrows', 'nose', 'mouth'],
    aliases: [],
    label: 'Eyes, eyebrows, nose and mouth',
  },
] as const satisfies ReadonlyArray<{
  name: string;
  parts: ReadonlyArray<'face' | 'eyes' | 'eyebrows' | 'nose' | 'mouth'>;
  aliases: readonly string[];
  label: string;
}>;

/** The parts a segmentation blends, and its label. */
export function segmentationOf(name: string): (typeof SEGMENTATIONS)[number] | undefined {
  const upper = name.toUpperCase();
  return SEGMENTATIONS.find((s) => s.name === upper || (s.aliases as readonly string[]).includes(upper));
}
