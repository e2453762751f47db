import type { FaceDetector } from '../../src-main/engine/detect/detector.js';
import type { FollowModels } from '../../src-main/engine/track/follow.js';

/**
 * The models answering one request at a time, in order, as a model worker does: the nets keep their input buffers
 * across an await, and the chunks' requests would otherwise interleave on one instance.
 */
export function oneAtATime(models: FollowModels): FollowModels {
  let queue: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(run: () => Promise<T>): Promise<T> => {
    const result = queue.then(run);
    queue = result.catch(() => undefined);
    return result;
  };
  const { detector } = models;
  const queued = Object.create(detector) as FaceDetector;
  queued.detectFrame = (...args) => inTurn(() => detector.detectFrame(...args));
  queued.detectAround = (...args) => inTurn(() => detector.detectAround(...args));
  return {
    detector: queued,
    landmarks: (...args) => inTurn(() => models.landmarks(...args)),
    refine: (...args) => inTurn(() => models.refine(...args)),
    descriptors: (...args) => inTurn(() => models.descriptors(...args)),
  };
}
