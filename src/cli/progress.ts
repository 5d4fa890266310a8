// A progress line on stderr while a mount uploads (dvfs sync, dvfs unmount):
// a bar over the bytes that were pending when it started, redrawn in place on
// a terminal, one line every few seconds otherwise.
import type { StatusReport } from './control-server.js';
import { formatSize } from './sizes.js';

export interface Progress {
  update(report: StatusReport): void;
  done(): void;
}

const WIDTH = 30;

export function progressLine(): Progress {
  const tty = process.stderr.isTTY === true;
  let total: number | undefined;
  let lastPrint = 0;
  let lastText = '';
  let drawn = false;
  return {
    update(report) {
      const w = report.writes;
      if (!w) return;
      const active = w.pending.filter((i) => i.state !== 'failed' && i.op !== 'local' && i.op !== 'folder');
      total = Math.max(total ?? 0, w.bytesPending);
      const done = total > 0 ? (total - w.bytesPending) / total : 1;
      const filled = Math.round(done * WIDTH);
      const uploading = active.find((i) => i.state === 'uploading');
      const text =
        `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${Math.floor(done * 100)}%  ` +
        `${active.length} change(s) left, ${formatSize(w.bytesPending)} to upload` +
        (w.failed.length ? `, ${w.failed.length} failed` : '') +
        (uploading ? `  (${uploading.op} ${uploading.path})` : '');
      if (tty) {
        process.stderr.write(`\r${text.slice(0, (process.stderr.columns || 120) - 1).padEnd(lastText.length)}`);
        drawn = true;
      } else if (text !== lastText && Date.now() - lastPrint > 2000) {
        process.stderr.write(`${text}\n`);
        lastPrint = Date.now();
      }
      lastText = text;
    },
    done() {
      if (tty && drawn) process.stderr.write('\n');
    },
  };
}
