// Following a growing answer: the view stays at the bottom while the analyst is there, and
// stops following once they scroll up to read (a "jump to latest" button brings them back).

/** Within this many pixels of the end counts as at the bottom (a wheel notch is ~50). */
export const SLACK = 40;

export function atBottom(scrollTop: number, scrollHeight: number, clientHeight: number): boolean {
  return scrollHeight - scrollTop - clientHeight <= SLACK;
}

/**
 * Whether the view was moved up from where following last left it (`left`). A scrollbar drag,
 * a key or a script moves it without a wheel event, and at a few hundred tokens a second the
 * answer grows before the scroll event reports the move: following must not pull it back.
 * A view clamped by content that shrank is at its bottom, and has not been moved.
 */
export function movedUp(left: number | null, scrollTop: number, scrollHeight: number, clientHeight: number): boolean {
  return left !== null && scrollTop < left - 1 && !atBottom(scrollTop, scrollHeight, clientHeight);
}

/**
 * Keeps `el` at its end while `following()` says so, whatever grows inside it; calls `leave`
 * when it finds the view moved up since it last put it at the end. Returns a stop.
 */
export function follow(el: HTMLElement, following: () => boolean, leave: () => void): () => void {
  let left: number | null = null;
  const stick = () => {
    if (!following()) {
      left = null;
      return;
    }
    if (movedUp(left, el.scrollTop, el.scrollHeight, el.clientHeight)) {
      left = null;
      leave();
      return;
    }
    el.scrollTop = el.scrollHeight;
    left = el.scrollTop;
  };
  const observer = new MutationObserver(stick);
  observer.observe(el, { childList: true, subtree: true, characterData: true });
  return () => observer.disconnect();
}
