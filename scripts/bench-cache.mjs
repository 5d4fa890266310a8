#!/usr/bin/env node
// Micro-benchmark of the block cache (src/cache), without FUSE: reads a file
// through BlockCache the way the kernel asks for it (128 KiB requests, a few
// in flight) and compares with curl downloading the same file.
//
//   node scripts/bench-cache.mjs [--size MiB] [--build DIR] [--slow]
//        [--prefetch MiB] [--slow-disk wait|skip] [--no-verify] [--hash-main]
//
// --build: the compiled tree to use (default dist; e.g. .build/e). The CLI in
// it runs `dvfs serve`. Each measurement runs in a fresh child process, so
// its peak RSS is the cache's own plus Node's and undici's (a plain 1 GiB
// download through the same client peaks near 125 MiB on its own).
// --slow: also the slow-link case: 40 ms per request and 8 MiB/s per
// connection (dvfs serve --latency-ms 40 --bandwidth 8M), 128 MiB file.
// --prefetch, --slow-disk: BlockCache's prefetchBytes and slowDisk options.
// --no-verify: no whole-file MD5; --hash-main: MD5 on the main thread.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const MiB = 1024 * 1024;
const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1024' },
    build: { type: 'string', default: path.join(here, '..', 'dist') },
    slow: { type: 'boolean', default: false },
    scenario: { type: 'string' },
    readers: { type: 'string', default: '1' },
    url: { type: 'string' },
    id: { type: 'string' },
    md5: { type: 'string' },
    bytes: { type: 'string' },
    dir: { type: 'string' },
    token: { type: 'string' },
    prefetch: { type: 'string', default: '16' },
    'no-verify': { type: 'boolean', default: false },
    'hash-main': { type: 'boolean', default: false },
    'slow-disk': { type: 'string', default: 'wait' },
  },
});
const build = path.resolve(values.build);

if (values.scenario) await runScenario();
else await main();

// --- parent: set up, then one child per measurement ---

async function main() {
  const work = mkdtempSync(path.join(os.tmpdir(), 'dvfs-bench-cache-'));
  const procs = [];
  try {
    const size = Number(values.size) * MiB;
    const fast = await serve(work, 'fast', []);
    procs.push(fast.proc);
    const file = path.join(work, 'big.bin');
    const md5 = writeRandom(file, size);
    const id = upload(fast, file, md5);
    console.log(`# block cache: ${values.size} MiB file, loopback (node ${process.version}, ${os.cpus().length} CPUs)`);
    const curlS = curlTime(fast, id, size);
    console.log(`curl                     ${rate(size, curlS)}`);
    const cache = path.join(work, 'cache');
    const common = ['--url', fast.url, '--token', fast.token, '--id', String(id), '--md5', md5, '--bytes', String(size), '--prefetch', values.prefetch];
    for (const [label, scen, readers, fresh] of [
      ['cold, 1 reader', 'seq', 1, true],
      ['warm (disk), 1 reader', 'seq', 1, false],
      ['cold, 8 readers', 'seq', 8, true],
      ['warm, 8 readers', 'seq', 8, false],
    ]) {
      if (fresh) rmSync(cache, { recursive: true, force: true });
      const r = child([...common, '--scenario', scen, '--readers', String(readers), '--dir', cache]);
      console.log(`${label.padEnd(24)} ${rate(size * readers, r.seconds)}  ${(r.seconds / curlS).toFixed(2)}x curl time, peak RSS ${r.rssMiB} MiB, ${r.requests} range requests`);
    }
    if (values.slow) {
      const slow = await serve(work, 'slow', ['--latency-ms', '40', '--bandwidth', '8M']);
      procs.push(slow.proc);
      const sSize = 128 * MiB;
      const sFile = path.join(work, 'slow.bin');
      const sMd5 = writeRandom(sFile, sSize);
      const sId = upload(slow, sFile, sMd5);
      const cS = curlTime(slow, sId, sSize);
      console.log(`\n# slow link: 40 ms per request, 8 MiB/s per connection, 128 MiB file`);
      console.log(`curl                     ${rate(sSize, cS)}`);
      rmSync(cache, { recursive: true, force: true });
      const r = child(['--url', slow.url, '--token', slow.token, '--id', String(sId), '--md5', sMd5, '--bytes', String(sSize), '--prefetch', values.prefetch, '--scenario', 'seq', '--readers', '1', '--dir', cache]);
      console.log(`cold, 1 reader           ${rate(sSize, r.seconds)}  ${(cS / r.seconds).toFixed(2)}x curl speed, peak RSS ${r.rssMiB} MiB, ${r.requests} range requests`);
    }
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  }
}

function rate(bytes, seconds) {
  return `${(bytes / MiB / seconds).toFixed(0).padStart(5)} MiB/s (${seconds.toFixed(2)} s)`;
}

function writeRandom(file, size) {
  const fd = openSync(file, 'w');
  const h = createHash('md5');
  for (let at = 0; at < size; at += 8 * MiB) {
    const b = randomBytes(Math.min(8 * MiB, size - at));
    h.update(b);
    writeSync(fd, b);
  }
  closeSync(fd);
  return h.digest('hex');
}

async function serve(work, name, args) {
  const dataDir = path.join(work, `serve-${name}`);
  const proc = spawn(process.execPath, [path.join(build, 'cli', 'main.js'), 'serve', '--port', '0', '--data-dir', dataDir, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.once('exit', (c) => reject(new Error(`dvfs serve exited ${c}: ${out}`)));
  });
  const token = readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
  return { proc, url, token };
}

function upload(srv, file, md5) {
  const dsJson = JSON.stringify({
    datasetVersion: {
      license: { name: 'CC0 1.0', uri: 'http://creativecommons.org/publicdomain/zero/1.0' },
      metadataBlocks: {
        citation: {
          fields: [
            { typeName: 'title', multiple: false, typeClass: 'primitive', value: 'bench' },
            { typeName: 'author', multiple: true, typeClass: 'compound', value: [{ authorName: { typeName: 'authorName', multiple: false, typeClass: 'primitive', value: 'B' } }] },
            { typeName: 'datasetContact', multiple: true, typeClass: 'compound', value: [{ datasetContactEmail: { typeName: 'datasetContactEmail', multiple: false, typeClass: 'primitive', value: 'b@example.org' } }] },
            { typeName: 'dsDescription', multiple: true, typeClass: 'compound', value: [{ dsDescriptionValue: { typeName: 'dsDescriptionValue', multiple: false, typeClass: 'primitive', value: 'b' } }] },
            { typeName: 'subject', multiple: true, typeClass: 'controlledVocabulary', value: ['Other'] },
          ],
        },
      },
    },
  });
  const ds = JSON.parse(execFileSync('curl', ['-sS', '-H', `X-Dataverse-key: ${srv.token}`, '-H', 'Content-Type: application/json', '--data-binary', dsJson, `${srv.url}/api/dataverses/root/datasets`]));
  const add = JSON.parse(
    execFileSync('curl', ['-sS', '-H', `X-Dataverse-key: ${srv.token}`, '-F', `file=@${file};filename=big.bin;type=application/octet-stream`, '-F', 'jsonData={"tabIngest":false}', `${srv.url}/api/datasets/${ds.data.id}/add`]),
  );
  const df = add.data.files[0].dataFile;
  if (df.checksum.value !== md5) throw new Error('upload checksum differs');
  return df.id;
}

function curlTime(srv, id, size) {
  const times = [];
  for (let i = 0; i < 3; i++) {
    const out = execFileSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', '-H', `X-Dataverse-key: ${srv.token}`, `${srv.url}/api/access/datafile/${id}`]).toString();
    const [n, t] = out.split(' ').map(Number);
    if (n !== size) throw new Error(`curl got ${n} bytes`);
    times.push(t);
  }
  return times.sort((a, b) => a - b)[1];
}

function child(args) {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--build', build, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }).toString();
  return JSON.parse(out.trim().split('\n').pop());
}

// --- child: one measurement ---

async function runScenario() {
  const { BlockCache } = await import(pathToFileURL(path.join(build, 'cache', 'block-cache.js')).href);
  const { DataverseClient } = await import(pathToFileURL(path.join(build, 'dataverse', 'client.js')).href);
  const size = Number(values.bytes);
  const client = new DataverseClient({ baseUrl: values.url, token: () => values.token });
  const cache = await BlockCache.create({
    dir: values.dir,
    maxBytes: 4 * size + 64 * MiB,
    client,
    prefetchBytes: Number(values.prefetch) * MiB,
    hashInWorker: !values['hash-main'],
    slowDisk: values['slow-disk'],
    log: (l) => console.error(l),
  });
  const checksum = values['no-verify'] ? undefined : { type: 'MD5', value: values.md5 };
  const source = { fileId: Number(values.id), query: '', size, checksum, cacheKey: `${values.id}#md5:${values.md5}` };
  const readers = Number(values.readers);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: readers }, () => readAll(cache.open(source), size)));
  const seconds = (performance.now() - t0) / 1000;
  const stats = cache.stats();
  await cache.close();
  await client.close();
  const cpu = process.cpuUsage();
  console.log(JSON.stringify({ seconds, rssMiB: Math.round(process.resourceUsage().maxRSS / 1024), requests: stats.rangeRequests, downloadedMiB: Math.round(stats.bytesDownloaded / MiB), writesSkipped: stats.writesSkipped, cpuSeconds: Math.round((cpu.user + cpu.system) / 1e4) / 100 }));
}

/** 128 KiB requests, 4 in flight (what the kernel's readahead sends), checked by a running MD5. */
async function readAll(reader, size) {
  const REQ = 128 * 1024;
  let next = 0;
  let sum = 0;
  const worker = async () => {
    for (;;) {
      const offset = next;
      if (offset >= size) return;
      next += REQ;
      const b = await reader.read(offset, REQ);
      sum += b.length;
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  reader.close();
  if (sum !== size) throw new Error(`read ${sum} bytes of ${size}`);
}
