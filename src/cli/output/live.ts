// The live terminal view of `watch`: a frame redrawn in place on stderr with log-update (only the
// lines that changed are rewritten, so the screen never flickers), a spinner animated with ora's
// frames, and a terminal left clean however the view ends (cursor shown again). Used only when
// output is interactive; the only module that writes cursor codes.
import { createLogUpdate } from "log-update";
import { spinners } from "ora";

export interface TerminalSize {
  columns: number;
  rows: number;
}

/** Builds the frame to show for this spinner frame and terminal size (pure: see render.ts). */
export type DrawFrame = (spinner: string, size: TerminalSize) => string;

export interface LiveView {
  /** Redraws now, with fresh data. */
  redraw(): void;
  /** Stops animating; `keep` leaves the last frame on screen, otherwise it is erased. */
  stop(options: { keep: boolean }): void;
}

const SPINNER = spinners.dots;

export function startLiveView(draw: DrawFrame, stream: NodeJS.WriteStream = process.stderr): LiveView {
  // A pseudo-terminal may report 0×0 (no size set): log-update would then draw nothing.
  const size = (): TerminalSize => ({ columns: stream.columns || 80, rows: stream.rows || 24 });
  const target = {
    isTTY: true,
    get columns() {
      return size().columns;
    },
    get rows() {
      return size().rows;
    },
    write: (text: string) => stream.write(text),
  };
  const update = createLogUpdate(target as unknown as NodeJS.WriteStream);
  let frame = 0;
  const show = () => update(draw(SPINNER.frames[frame % SPINNER.frames.length]!, size()));
  const ticker = setInterval(() => {
    frame += 1;
    show();
  }, SPINNER.interval);
  show();
  let stopped = false;
  return {
    redraw: () => {
      if (!stopped) show();
    },
    stop({ keep }) {
      if (stopped) return;
      stopped = true;
      clearInterval(ticker);
      if (keep) {
        show();
        // The terminal echoed "^C" on the line below the frame: wipe it.
        stream.write("\r\u001b[K");
      } else {
        update.clear();
      }
      update.done();
    },
  };
}
