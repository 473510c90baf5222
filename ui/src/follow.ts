// Following a growing answer: the view stays at the bottom while the analyst is there, and
// stops following once they scroll up to read (a "jump to latest" button brings them back).

/** Within this many pixels of the end counts as at the bottom (a wheel notch is ~50). */
export const SLACK = 40;

export function atBottom(scrollTop: number, scrollHeight: number, clientHeight: number): boolean {
  return scrollHeight - scrollTop - clientHeight <= SLACK;
}

/** Keeps `el` at its end while `following()` says so, whatever grows inside it; returns a stop. */
export function follow(el: HTMLElement, following: () => boolean): () => void {
  const stick = () => {
    if (following()) el.scrollTop = el.scrollHeight;
  };
  const observer = new MutationObserver(stick);
  observer.observe(el, { childList: true, subtree: true, characterData: true });
  return () => observer.disconnect();
}
