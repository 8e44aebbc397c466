/** What a follower collected: the whole text, and whether some of it slipped past between two reads. */
export interface Followed {
  readonly text: string;
  readonly lost: boolean;
}

/**
 * Follows a bounded output buffer (test/support's captureOutput keeps only
 * the newest 256 kB; HAProxy's log outgrows that over ~100 reloads) by
 * reading it every `everyMs` and appending what is new since the last read,
 * found after the previous read's last `anchor` characters.
 */
export function followText(read: () => string, everyMs = 250, anchor = 2000): { stop(): Followed } {
  let all = '';
  let last = '';
  let lost = false;
  const poll = (): void => {
    const now = read();
    if (last === '') all = now;
    else if (now !== last) {
      const tail = last.slice(-anchor);
      const i = now.lastIndexOf(tail);
      if (i >= 0) all += now.slice(i + tail.length);
      else {
        lost = true;
        all += `\n[… lost between two reads …]\n${now}`;
      }
    }
    last = now;
  };
  const timer = setInterval(poll, everyMs);
  return {
    stop() {
      clearInterval(timer);
      poll();
      return { text: all, lost };
    },
  };
}
