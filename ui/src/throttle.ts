// Re-renders a growing text at most once per interval, always ending on its latest value:
// rendering markdown on every token of a long answer would be wasted work.

export class Throttled<T> {
  private latest: string | null = null;
  private rendered: string | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;

  constructor(
    private readonly work: (text: string) => Promise<T>,
    private readonly done: (result: T, text: string) => void,
    private readonly intervalMs: number,
  ) {}

  /** Asks for `text` to be rendered: now if idle, else once the interval has passed. */
  push(text: string, immediate = false) {
    this.latest = text;
    if (this.running || this.timer !== null) {
      if (!immediate) return;
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      if (this.running) return;
    }
    if (immediate || this.rendered === null) void this.run();
    else this.timer = setTimeout(() => {
      this.timer = null;
      void this.run();
    }, this.intervalMs);
  }

  private async run() {
    const text = this.latest;
    if (text === null || text === this.rendered) return;
    this.running = true;
    try {
      const result = await this.work(text);
      this.rendered = text;
      this.done(result, text);
    } finally {
      this.running = false;
    }
    // Text that came while this one rendered.
    if (this.latest !== this.rendered) this.push(this.latest ?? "");
  }

  cancel() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.latest = null;
  }
}
