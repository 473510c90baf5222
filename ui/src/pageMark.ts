// Where a cited passage lies on its PDF page: the page's text items (as pdf.js reads them)
// that hold it. The passage was read by another reader (the app's), so spacing, line breaks,
// table pipes and the order of columns may differ: both sides are compared by their letters
// and digits only, in overlapping windows, so a passage whose columns came out in another
// order is still found piece by piece, and a short figure alone never marks the page.

/** Letters and digits only, lower-cased, with each kept character's offset in `s`. */
export function normalise(s: string): { text: string; at: number[] } {
  let text = "";
  const at: number[] = [];
  let i = 0;
  for (const ch of s.normalize("NFKC")) {
    if (/[\p{L}\p{N}]/u.test(ch)) {
      const lower = ch.toLowerCase();
      text += lower;
      for (let k = 0; k < lower.length; k++) at.push(i);
    }
    i += ch.length;
  }
  return { text, at };
}

/** A window this long is taken to be the passage's own words, not a coincidence. */
export const WINDOW = 24;

/** The indices of `items` (a page's text, in reading order) that hold `passage`: an item is
 *  marked when at least half of its letters and digits fall in a window of the passage found on
 *  the page. A passage shorter than a window must be found whole. */
export function markedItems(items: string[], passage: string): number[] {
  // The page as one string, each character knowing its item.
  let page = "";
  const owner: number[] = [];
  items.forEach((s, i) => {
    const n = normalise(s).text;
    page += n;
    for (let k = 0; k < n.length; k++) owner.push(i);
  });
  // Lines the app's readers add to what they read ("[p. 3: read by OCR …]") are not on the page.
  const wanted = normalise(passage.replace(/^\[p\. \d+:[^\]]*\]\s*/gm, "")).text;
  if (page.length === 0 || wanted.length === 0) return [];
  const covered = new Uint8Array(page.length);
  const mark = (from: number, len: number) => covered.fill(1, from, from + len);
  if (wanted.length <= WINDOW) {
    for (let at = page.indexOf(wanted); at >= 0; at = page.indexOf(wanted, at + 1)) mark(at, wanted.length);
  } else {
    const step = WINDOW / 2;
    for (let start = 0; start < wanted.length; start += step) {
      const piece = wanted.slice(start, Math.min(start + WINDOW, wanted.length));
      if (piece.length < WINDOW) {
        // The tail: found only right after what was found before it.
        const tail = wanted.slice(wanted.length - WINDOW);
        const at = page.indexOf(tail);
        if (at >= 0) mark(at, tail.length);
        break;
      }
      const at = page.indexOf(piece);
      if (at >= 0) mark(at, piece.length);
    }
  }
  const total = new Map<number, number>();
  const hit = new Map<number, number>();
  owner.forEach((item, k) => {
    total.set(item, (total.get(item) ?? 0) + 1);
    if (covered[k]) hit.set(item, (hit.get(item) ?? 0) + 1);
  });
  return [...hit.entries()].filter(([item, n]) => n * 2 >= (total.get(item) ?? 1)).map(([item]) => item).sort((a, b) => a - b);
}
