/**
 * A shift of a rootfs that exists, in place: which passes it takes so that a run killed anywhere converges
 * when run again. Pure: the executor surveys the tree, asks here, journals the passes, and runs each.
 *
 * A pass from map F to map T rewrites each id with one rule: an id T already gives one of F's container ids
 * ("shifted", below) is kept; any other is moved by the maps. Run twice, the rule changes nothing the first
 * run did, provided no id the tree held before the pass was itself a shifted one: then "shifted" tells the
 * done ids from the pending ones, inode by inode and ACL entry by entry, with no record of which inodes
 * were reached. When the maps overlap where the tree has ids (0→1000, then 1000→2000 moves the ids at 1000
 * and also lands on them), the shift takes two passes, through a range the tree does not use and the
 * target map does not touch: each pass is then of that safe kind, and the journal says which one runs.
 */
import { InvalidInput } from "./errors";
import { IdKind, Idmap, idmapLabel, idShift, MAX_ID, sameIdmap, toContainer, toHost } from "./idmap";

/** One pass of a shift: the maps the tree goes from and to. */
export interface ShiftPass {
  from: Idmap | null;
  to: Idmap | null;
}

/** The distinct host ids a tree holds, per kind: owners, ACL entries, and capabilities' rootids (uids). */
export interface IdsSeen {
  uid: readonly number[];
  gid: readonly number[];
}

/** Whether `hostId` is where a shift from `from` to `to` puts ids: `to`'s host id of one of `from`'s container ids. */
export function isShifted(from: Idmap | null, to: Idmap | null, kind: IdKind, hostId: number): boolean {
  const inside = toContainer(to, kind, hostId);
  return inside !== null && toHost(from, kind, inside) !== null;
}

const KINDS: readonly IdKind[] = ["uid", "gid"];

/** The ids of `seen` a shift from `from` to `to` would lose to the overflow id, uids and gids as one sorted list. */
export function lostIds(from: Idmap | null, to: Idmap | null, seen: IdsSeen): number[] {
  const shift = idShift(from, to);
  return [...new Set(KINDS.flatMap((k) => seen[k].filter((id) => shift[k](id).lost)))].sort((a, b) => a - b);
}

/** Rounds up to whole blocks of 65536 ids, so that a range chosen here reads plainly in a journal or a message. */
const BLOCK = 65536;
const roundUp = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

/**
 * The passes a shift of a tree holding `seen` takes from `from` to `to`: none when the maps map alike, one
 * when no id the tree holds is already a shifted one, else two through a free range. A tree holding an id
 * one of the maps leaves out is refused by the caller first (its survey counts them), so every seen id is
 * one `from` maps.
 */
export function shiftPasses(from: Idmap | null, to: Idmap | null, seen: IdsSeen): ShiftPass[] {
  if (sameIdmap(from, to)) return [];
  const shift = idShift(from, to);
  const clash = KINDS.some((k) => seen[k].some((id) => shift[k](id).id !== id && isShifted(from, to, k, id)));
  if (!clash) return [{ from, to }];
  const between = freeRange(from, to, seen);
  return [
    { from, to: between },
    { from: between, to },
  ];
}

/**
 * A map of every container id the tree holds to host ids it does not hold and `to` does not map: the
 * middle of a two-pass shift. Its second pass then lands only on `to`'s ids, none of which it moves.
 */
function freeRange(from: Idmap | null, to: Idmap | null, seen: IdsSeen): Idmap {
  // Loops, not Math.max(...ids): a tree may hold more distinct ids than a call takes arguments.
  let span = 1;
  let highest = 0;
  for (const k of KINDS)
    for (const id of seen[k]) {
      span = Math.max(span, (toContainer(from, k, id) ?? 0) + 1);
      highest = Math.max(highest, id);
    }
  // Above every id held, and (for `to` the identity, whose shifted ids are the container ids) above the span.
  let base = roundUp(Math.max(highest + 1, span));
  const taken = to === null ? [] : KINDS.flatMap((k) => to[k].map((r) => [r.hostId, r.hostId + r.size] as const));
  for (let moved = true; moved;) {
    moved = false;
    for (const [lo, hi] of taken) {
      if (base < hi && lo < base + span) {
        base = roundUp(hi);
        moved = true;
      }
    }
  }
  if (base + span - 1 > MAX_ID)
    throw new InvalidInput(
      "idmap",
      idmapLabel(to),
      `a map this rootfs can be shifted into from ${idmapLabel(from)}: the maps overlap where it has ids, and no free range of ${span} host ids is left to shift it through`,
    );
  const range = [{ containerId: 0, hostId: base, size: span }];
  return { uid: range, gid: range.map((r) => ({ ...r })) };
}
