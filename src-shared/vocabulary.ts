/**
 * One vocabulary for the two people of a project, used by every page and the CLI's help: A is the person in the
 * video you convert (the source); B is the person whose face A receives (the target). "A → B" converts a video of
 * A so that A wears B's face.
 */
export const SIDE_ROLES = {
  a: { role: 'the source', who: 'the person in the video you convert' },
  b: { role: 'the target', who: 'the person whose face A receives' },
} as const;

/** "A: the person in the video you convert (the source)". */
export function sideLine(side: 'a' | 'b'): string {
  return `${side.toUpperCase()}: ${SIDE_ROLES[side].who} (${SIDE_ROLES[side].role})`;
}

/** The converter's direction in the same words: "A → B: A wears B’s face" (`arrow` is "->" in the terminal). */
export function directionLabel(direction: 'AtoB' | 'BtoA', arrow = '→'): string {
  return direction === 'AtoB' ? `A ${arrow} B: A wears B’s face` : `B ${arrow} A: B wears A’s face`;
}
