/**
 * The original's loss schedule as data (iterations of a 40k run), scaled to the chosen total.
 * Changes are applied in place: learning rates and flags, never a rebuilt graph.
 */
export interface ScheduleState {
  perceptual: boolean;
  hinge: boolean;
  mMask: number;
  lrFactor: number;
  /** True once decoders A and B have swapped weights. */
  swapped: boolean;
}

export interface ScheduleEvent {
  at: number;
  set: Partial<Omit<ScheduleState, 'swapped'>>;
  swapDecoders?: boolean;
}

export const ORIGINAL_TOTAL = 40_000;

export const ORIGINAL_SCHEDULE: readonly ScheduleEvent[] = [
  { at: 7_850, set: { perceptual: true } },
  { at: 11_850, set: { hinge: true, mMask: 0.5 } },
  { at: 15_850, set: { mMask: 0.2 } },
  { at: 19_850, set: { mMask: 0.4 } },
  { at: 26_516, set: { hinge: false, lrFactor: 0.3 } },
  { at: 31_850, set: { hinge: true, mMask: 0.1 }, swapDecoders: true },
  { at: 35_850, set: { hinge: false, lrFactor: 0.1 } },
];

export const INITIAL_SCHEDULE_STATE: ScheduleState = {
  perceptual: false,
  hinge: false,
  mMask: 0,
  lrFactor: 1,
  swapped: false,
};

/** The schedule for a run of `total` iterations. */
export function scaledSchedule(total: number): ScheduleEvent[] {
  return ORIGINAL_SCHEDULE.map((e) => ({ ...e, at: Math.max(1, Math.round((e.at / ORIGINAL_TOTAL) * total)) }));
}

/** The state in force at `iteration` (events at or before it applied in order). */
export function scheduleAt(events: readonly ScheduleEvent[], iteration: number): ScheduleState {
  let state = { ...INITIAL_SCHEDULE_STATE };
  for (const e of events) {
    if (e.at > iteration) break;
    state = { ...state, ...e.set, swapped: state.swapped !== Boolean(e.swapDecoders) };
  }
  return state;
}

/** Events that fire exactly at this iteration. */
export function eventsAt(events: readonly ScheduleEvent[], iteration: number): ScheduleEvent[] {
  return events.filter((e) => e.at === iteration);
}
