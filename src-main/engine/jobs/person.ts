/**
 * The user's choice of a side's person (on the timeline, or by a reference photo): project state that the next
 * extraction acts on (its align and select stages are redone for that track).
 */
import sharp from 'sharp';
import { ErrorCode, StudioError, type Side } from '../../../src-shared/contract/index.js';
import { alignmentTransform } from '../../../src-shared/math/face.js';
import { FaceDetector } from '../detect/detector.js';
import { FaceNets } from '../landmarks/face-nets.js';
import { FacesRepo } from '../project/faces-repo.js';
import type { ProjectStore } from '../project/store.js';
import { DESCRIPTOR_CROP } from '../track/follow.js';
import { descriptorDistance } from '../track/tracker.js';
import { EXTRACT_STAGES } from './extract-stages.js';

const label = (side: Side): string => side.toUpperCase();

/** The user picks another person for a side: later stages are redone for that track on the next extraction. */
export function choosePerson(store: ProjectStore, side: Side, trackId: number): void {
  const repo = new FacesRepo(store.db);
  if (!repo.trackStats(side).some((t) => t.id === trackId)) {
    throw new StudioError(ErrorCode.notFound, `side ${label(side)} has no track ${trackId}`, {
      field: 'params.trackId',
      fix: 'pick a face shown on the timeline',
    });
  }
  store.transaction(() => {
    repo.setUserChoice(side, trackId);
    store.db.prepare(`UPDATE faces SET status = 'pending', reason = NULL WHERE side = ?`).run(side);
    store.db
      .prepare(`UPDATE frames SET status = CASE WHEN face_count = 0 THEN status ELSE 'pending' END WHERE side = ?`)
      .run(side);
    store.setCursor(side, EXTRACT_STAGES.align, 0, false);
    store.setCursor(side, EXTRACT_STAGES.select, 0, false);
  });
}

/** Pick a side's person by a reference photo: the track whose identity is nearest to the face in the image. */
export async function choosePersonByReference(
  store: ProjectStore,
  side: Side,
  image: string,
): Promise<{ trackId: number; distance: number }> {
  let rgb: Uint8Array;
  let width: number;
  let height: number;
  try {
    const decoded = await sharp(image).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
    rgb = decoded.data;
    width = decoded.info.width;
    height = decoded.info.height;
  } catch (error) {
    throw new StudioError(ErrorCode.badMedia, `${image} is not a readable image: ${(error as Error).message}`, {
      file: image,
      fix: 'use a JPEG or PNG photo of the person',
    });
  }
  const detector = await FaceDetector.load(store.project.settings.extraction.detector);
  const nets = await FaceNets.load();
  const faces = await detector.detectFrame(rgb, width, height, { threshold: 0.6, minFaceSide: 35 });
  const face = faces.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height)[0];
  if (!face)
    throw new StudioError(ErrorCode.badMedia, `no face was found in ${image}`, {
      file: image,
      fix: 'use a photo where the face is clearly visible',
    });
  const landmarks = await nets.landmarks(rgb, width, height, face.box);
  const reference = await nets.descriptor(
    rgb,
    width,
    height,
    alignmentTransform(landmarks, DESCRIPTOR_CROP),
    DESCRIPTOR_CROP,
  );
  let best: { trackId: number; distance: number } | null = null;
  for (const track of new FacesRepo(store.db).trackDescriptors(side)) {
    const distance = descriptorDistance(track.descriptor, reference);
    if (!best || distance < best.distance) best = { trackId: track.id, distance };
  }
  if (!best)
    throw new StudioError(ErrorCode.notFound, `side ${label(side)} has no tracked faces yet`, {
      fix: 'run extraction first',
    });
  if (best.distance > 0.6) {
    throw new StudioError(
      ErrorCode.notFound,
      `nobody on side ${label(side)} looks like the face in ${image} (closest identity distance ${best.distance.toFixed(2)})`,
      {
        file: image,
        fix: 'use another photo of the person, or pick the person on the timeline',
      },
    );
  }
  choosePerson(store, side, best.trackId);
  store.db.prepare('UPDATE person_choice SET reference_image = ? WHERE side = ?').run(image, side);
  return best;
}
