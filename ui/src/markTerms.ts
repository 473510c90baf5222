// The words a search found, marked where the analyst opened its hit: in the message's text
// (never in code), each occurrence wrapped in <mark class="search-mark">, case aside.

/** A search's words: each Latin word of two characters or more, and each run of Chinese. */
export function searchTerms(query: string): string[] {
  const words = query
    .toLowerCase()
    .split(/[\s,，。;；:："'“”‘’()（）]+/)
    .filter((w) => w.length >= 2 || /[\u3400-\u9fff]/.test(w));
  return [...new Set(words)].sort((a, b) => b.length - a.length);
}

/** Where `terms` occur in `text` (lower-cased), as [start, end) ranges, without overlaps. */
export function termRanges(text: string, terms: string[]): [number, number][] {
  const lower = text.toLowerCase();
  const out: [number, number][] = [];
  for (const term of terms) {
    for (let at = lower.indexOf(term); at >= 0; at = lower.indexOf(term, at + term.length)) {
      if (!out.some(([a, b]) => at < b && at + term.length > a)) out.push([at, at + term.length]);
    }
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/** Marks `terms` in the text under `root`; marks already there are left as they are. */
export function markTerms(root: HTMLElement, terms: string[]) {
  if (terms.length === 0) return;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => (n.parentElement?.closest("code, pre, mark, button, .stats") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  const nodes: Text[] = [];
  while (walker.nextNode()) nodes.push(walker.currentNode as Text);
  for (const node of nodes) {
    const ranges = termRanges(node.data, terms);
    if (ranges.length === 0) continue;
    const frag = document.createDocumentFragment();
    let at = 0;
    for (const [a, b] of ranges) {
      frag.append(node.data.slice(at, a));
      const mark = document.createElement("mark");
      mark.className = "search-mark";
      mark.textContent = node.data.slice(a, b);
      frag.append(mark);
      at = b;
    }
    frag.append(node.data.slice(at));
    node.replaceWith(frag);
  }
}
