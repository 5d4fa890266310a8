// The runtime's memory floor for parallel reads: a bare Node process that
// only downloads ranges of one file with undici (the HTTP client dvfs uses)
// and drops every chunk. No FUSE, no cache, no checksum, no disk. Its peak RSS
// is what Node, V8 and undici's socket buffers (garbage until V8 collects
// them) take before dvfs adds anything.
//
//   DATAVERSE_API_TOKEN=… node scripts/download-floor.mjs <server-url> <file-id> <file-size> <parallel>
//
// Splits the file into <parallel> equal ranges, downloads them at once, and
// prints `peak-rss-kib <n>`. Used by scripts/bench-read.mjs.
import { readFileSync } from 'node:fs';
import { Agent } from 'undici';

const [url, fileId, sizeArg, parallelArg] = process.argv.slice(2);
const size = Number(sizeArg);
const parallel = Number(parallelArg);
if (!url || !fileId || !(size > 0) || !(parallel > 0)) {
  console.error('usage: node scripts/download-floor.mjs <server-url> <file-id> <file-size> <parallel>');
  process.exit(2);
}
const token = process.env.DATAVERSE_API_TOKEN ?? '';
const origin = new URL(url).origin;
const agent = new Agent({ connections: parallel });
const part = Math.floor(size / parallel);

/** Download bytes [start, end) and count them. */
function download(start, end) {
  return new Promise((resolve, reject) => {
    let received = 0;
    let status = 0;
    agent.dispatch(
      {
        origin,
        path: `/api/v1/access/datafile/${fileId}`,
        method: 'GET',
        headers: { 'x-dataverse-key': token, range: `bytes=${start}-${end - 1}` },
      },
      {
        onConnect() {},
        onHeaders(code) {
          status = code;
          return true;
        },
        onData(chunk) {
          received += chunk.length;
          return true;
        },
        onError: reject,
        onComplete() {
          if (status !== 206 || received !== end - start) reject(new Error(`range ${start}-${end}: status ${status}, ${received} bytes`));
          else resolve();
        },
      },
    );
  });
}

await Promise.all(Array.from({ length: parallel }, (_, i) => download(i * part, i === parallel - 1 ? size : (i + 1) * part)));
await agent.close();
console.log(`peak-rss-kib ${/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]}`);
