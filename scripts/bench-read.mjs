// Bench part "read": the read path of a dvfs mount against curl, wget, a local
// file, the FUSE binding's own ceiling, and rclone mount / httpdirfs on nginx.
// Everything is measured in this one run and printed as one table of ratios.
// Run through scripts/bench (which builds and prints the machine).
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import yazl from 'yazl';
import { cleanup, cpuSeconds, execFile, mbps, median, mountDvfs, mounts, REPS, sleep, start, stop, table, timed, workDir } from './bench-lib.mjs';

const CLI = process.env.DVFS_CLI;
if (!CLI) throw new Error('run through scripts/bench');
const GiB = 1024 ** 3;
const BIG = Number(process.env.BENCH_READ_SIZE ?? GiB);
const SLOW = { latencyMs: 40, bandwidth: 50 * 1024 * 1024 };
/** The big file's size as the rows name it (BENCH_READ_SIZE changes it). */
const BIG_LABEL = BIG % GiB === 0 ? `${BIG / GiB} GiB` : `${Math.round(BIG / 2 ** 20)} MiB`;

const work = await workDir('dvfs-bench-read-');
await chmod(work, 0o755); // nginx's worker (an unprivileged user) reads from here

// --- the server and its data ---
const dataDir = path.join(work, 'serve');
const serve = start(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--seed', 'demo'], /listening on (http:\/\/\S+)/);
const url = (await serve.ready)[1];
const tokens = JSON.parse(await readFile(path.join(dataDir, 'demo-tokens.json'), 'utf8')).users;
const token = tokens.editor.token;
const H = ['-H', `X-Dataverse-key: ${token}`];
const api = async (p, init = {}) => {
  const r = await fetch(`${url}/api/v1${p}`, { ...init, headers: { 'X-Dataverse-key': token, ...(init.headers ?? {}) } });
  const j = await r.json();
  if (j.status !== 'OK') throw new Error(`${p}: ${JSON.stringify(j).slice(0, 300)}`);
  return j;
};
const control = (p, init = {}) => fetch(`${url}/api/control${p}`, init).then((r) => r.json());
const setFaults = (s) => control('/faults', { method: 'POST', body: JSON.stringify(s), headers: { 'content-type': 'application/json' } });

// A local 1 GiB file of random bytes: uploaded to dvfs serve and served by nginx.
const local = path.join(work, 'big.bin');
{
  const out = createWriteStream(local);
  const chunk = 8 << 20;
  for (let done = 0; done < BIG; done += chunk) {
    const buf = randomBytes(Math.min(chunk, BIG - done));
    if (!out.write(buf)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r) => out.end(r));
}
const search = async (title) => {
  const items = (await api(`/search?q=*&type=dataset&per_page=100`)).data.items;
  const it = items.find((i) => i.name === title);
  return (await api(`/datasets/:persistentId/?persistentId=${it.global_id}`)).data;
};
const climate = 'earth-sciences/climate';
const folderOf = (pid) => pid.replace(':', '-').replace(/\//g, '-');
/** A published dataset in the climate collection holding `file` (a zip is unpacked by the server); its folder in a mount. */
async function publishDataset(title, file) {
  const created = await api('/dataverses/climate/datasets', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      datasetVersion: {
        license: { name: 'CC0 1.0', uri: 'http://creativecommons.org/publicdomain/zero/1.0' },
        metadataBlocks: { citation: { fields: [{ typeName: 'title', multiple: false, typeClass: 'primitive', value: title }] } },
      },
    }),
  });
  const { id, persistentId } = created.data;
  await execFile('curl', ['-sS', '-f', ...H, '-F', `file=@${file}`, '-F', 'jsonData={"tabIngest":"false"}', `${url}/api/v1/datasets/${id}/add`], { maxBuffer: 1 << 24 });
  await api(`/datasets/${id}/actions/:publish?type=major`, { method: 'POST' });
  while ((await api(`/datasets/${id}/locks`)).data.length > 0) await sleep(100);
  return { id, rel: path.join(...climate.split('/'), folderOf(persistentId), '1.0') };
}
const bigSet = await publishDataset(`Bench ${BIG_LABEL}`, local);
const bigFile = (await api(`/datasets/${bigSet.id}/versions/1.0/files`)).data[0].dataFile;
const bigRel = path.join(bigSet.rel, 'big.bin');
// 200 files of 600 KB (random bytes, so nothing compresses): small enough for zips, large enough to fill them.
const MEDIUM = { count: 200, size: 600_000 };
const mediumDir = path.join(work, 'medium');
await mkdir(mediumDir);
const mediumZip = path.join(work, 'medium.zip');
{
  const zip = new yazl.ZipFile();
  for (let i = 0; i < MEDIUM.count; i++) {
    const name = `m${String(i).padStart(3, '0')}.bin`;
    const data = randomBytes(MEDIUM.size);
    await writeFile(path.join(mediumDir, name), data);
    zip.addBuffer(data, name, { compress: false });
  }
  zip.end();
  await new Promise((resolve, reject) => zip.outputStream.pipe(createWriteStream(mediumZip)).on('close', resolve).on('error', reject));
}
const mediumSet = await publishDataset('Bench medium files', mediumZip);
const many = await search('Weather Station Readings');
const manyRel = path.join(...climate.split('/'), folderOf(`${many.protocol}:${many.authority}/${many.identifier}`), '1.0');

// --- mounts ---
async function mount(opts = {}) {
  const m = await mountDvfs({ cli: CLI, url, token, ...opts });
  return {
    ...m,
    async peakRssMiB() {
      const status = await readFile(`/proc/${m.pid}/status`, 'utf8');
      return Number(/VmHWM:\s+(\d+)/.exec(status)[1]) / 1024;
    },
  };
}

const dropCaches = () => execFile('bash', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches']).catch(() => {});
const { row, print } = table('read');

async function curlRate(u, headers = []) {
  const xs = [];
  for (let i = 0; i < REPS; i++) {
    const { stdout } = await execFile('curl', ['-sS', '-f', '-o', '/dev/null', '-w', '%{speed_download}', ...headers, u]);
    xs.push(Number(stdout) / 1e6);
  }
  return median(xs);
}

/** MB/s of curl piped into md5sum (the digest checked against the file's): a verified download without FUSE. */
async function curlMd5Rate(u, headers, md5) {
  const xs = [];
  const quoted = [...headers, u].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    const { stdout } = await execFile('bash', ['-o', 'pipefail', '-c', `curl -sS -f ${quoted} | md5sum`]);
    xs.push(mbps(BIG, (performance.now() - t0) / 1000));
    if (!stdout.startsWith(md5)) throw new Error(`curl | md5sum gave ${stdout.trim()}, expected ${md5}`);
  }
  return median(xs);
}

/** CPU seconds of curl itself and of the server while curl downloads `u` once. */
async function curlCpu(u, headers = []) {
  const server0 = await cpuSeconds(serve.p.pid);
  const quoted = [...headers, u].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const { stderr } = await execFile('bash', ['-c', `TIMEFORMAT='%U %S'; time curl -sS -f -o /dev/null ${quoted}`]);
  const [user, sys] = stderr.trim().split(/\s+/).slice(-2).map(Number);
  return { client: user + sys, server: (await cpuSeconds(serve.p.pid)) - server0 };
}

async function coldMountRate(extraArgs = [], nodeArgs = [], reps = REPS) {
  const xs = [];
  const cpu = [];
  const serverCpu = [];
  let rss = 0;
  for (let i = 0; i < reps; i++) {
    const m = await mount({ args: extraArgs, nodeArgs });
    await dropCaches();
    const c0 = await cpuSeconds(m.pid);
    const s0 = await cpuSeconds(serve.p.pid);
    const s = await timed(`cat '${path.join(m.mnt, bigRel)}' > /dev/null`);
    cpu.push((await cpuSeconds(m.pid)) - c0);
    serverCpu.push((await cpuSeconds(serve.p.pid)) - s0);
    xs.push(mbps(BIG, s));
    rss = Math.max(rss, await m.peakRssMiB());
    await m.close();
  }
  return { rate: median(xs), rss, cpu: median(cpu), serverCpu: median(serverCpu) };
}

const bigUrl = `${url}/api/v1/access/datafile/${bigFile.id}`;

// 1. FUSE ceiling
const ceilMnt = await mkdtemp(path.join(work, 'ceil-'));
const ceil = start(process.execPath, [path.join(path.dirname(new URL(import.meta.url).pathname), 'fuse-ceiling.mjs'), ceilMnt, String(BIG)], /ready/);
await ceil.ready;
mounts.add(ceilMnt);
const ceilXs = [];
for (let i = 0; i < REPS; i++) ceilXs.push(mbps(BIG, await timed(`cat '${ceilMnt}/file' > /dev/null`)));
const ceiling = median(ceilXs);
await stop(ceil);
mounts.delete(ceilMnt);

// 2. loopback: cold sequential read vs curl, and vs curl | md5sum (the mount checks the MD5 of what it reads)
const curlLoop = await curlRate(bigUrl, H);
const md5Loop = await curlMd5Rate(bigUrl, H, bigFile.md5);
const cold = await coldMountRate();
const target = Math.min(curlLoop, ceiling);
row(`cold sequential read ${BIG_LABEL}, loopback (MB/s)`, cold.rate, 'mount', curlLoop, 'curl', cold.rate / curlLoop,
  `FUSE ceiling ${ceiling.toFixed(0)} MB/s; vs min(curl, ceiling): ${(cold.rate / target).toFixed(2)}; vs curl + md5sum: ${(cold.rate / md5Loop).toFixed(2)}`);
row('verified download without FUSE: curl piped to md5sum, loopback (MB/s)', md5Loop, 'curl + md5sum', curlLoop, 'curl', md5Loop / curlLoop,
  `the most a read that checks the MD5 can reach on ${os.cpus().length} CPUs shared with the server`);
{
  // Where the time goes on a small machine: the CPU each way needs (the mount process, or curl; the server apart).
  const c = await curlCpu(bigUrl, H);
  const perGiB = GiB / BIG;
  row('CPU for that read, per GiB (s)', cold.cpu * perGiB, 'mount process', c.client * perGiB, 'curl', cold.cpu / c.client,
    `server ${(cold.serverCpu * perGiB).toFixed(2)} s vs ${(c.server * perGiB).toFixed(2)} s; ${os.cpus().length} CPUs; the mount checks the MD5 and writes the block cache`);
}

// 3. warm re-read: page cache in the same mount, and block cache after a remount
{
  const m = await mount();
  await timed(`cat '${path.join(m.mnt, bigRel)}' > /dev/null`);
  const warm = mbps(BIG, await timed(`cat '${path.join(m.mnt, bigRel)}' > /dev/null`));
  const cacheDir = m.cacheDir;
  await m.close();
  await timed(`cat '${local}' > /dev/null`);
  const localRate = mbps(BIG, await timed(`cat '${local}' > /dev/null`));
  row('warm re-read, same mount (MB/s)', warm, 'mount', localRate, 'local file', warm / localRate, 'kernel page cache');
  const m2 = await mount({ cacheDir });
  await dropCaches();
  const before = (await control('/requests')).data.last;
  const disk = mbps(BIG, await timed(`cat '${path.join(m2.mnt, bigRel)}' > /dev/null`));
  const after = (await control(`/requests?since=${before}`)).data.entries.filter((e) => e.path.includes('/access/')).length;
  await dropCaches();
  const localCold = mbps(BIG, await timed(`cat '${local}' > /dev/null`));
  row('re-read after remount (MB/s)', disk, 'mount', localCold, 'local file, cold', disk / localCold, `block cache on disk; ${after} download requests`);
  await m2.close();
}

// 4. memory: one reader, and 8 parallel readers of an eighth each; against the runtime's floor:
// a bare Node process downloading the same 8 ranges with undici at the same rate (scripts/download-floor.mjs)
{
  row(`peak RSS, one ${BIG_LABEL} reader (MiB)`, cold.rss, 'mount', 150, 'target', cold.rss / 150);
  const reps = Math.max(3, REPS); // peak RSS varies by ±10 % between runs
  /** Peak RSS and MB/s of a mount (node started with `nodeArgs`) read by 8 parallel dd's. */
  async function eightReaders(nodeArgs, into) {
    const m = await mount({ nodeArgs });
    const part = Math.floor(BIG / 8 / (1 << 20));
    await dropCaches();
    const s = await timed(Array.from({ length: 8 }, (_, k) => `dd if='${path.join(m.mnt, bigRel)}' of=/dev/null bs=1M skip=${k * part} count=${part} status=none &`).join(' ') + ' wait');
    into.rates.push(mbps(BIG, s));
    into.rss.push(await m.peakRssMiB());
    await m.close();
  }
  // The default, and V8's young generation capped at 2 x 1 MiB (by default it grows to 2 x 16 MiB):
  // less memory, more garbage collection. Taken in turns, as the machine's speed drifts.
  const SMALL_YOUNG = ['--max-semi-space-size=1'];
  const byDefault = { rss: [], rates: [] };
  const small = { rss: [], rates: [] };
  const pairs = [];
  for (let i = 0; i < reps; i++) {
    await eightReaders([], byDefault);
    await eightReaders(SMALL_YOUNG, small);
    pairs.push([await coldMountRate([], [], 1), await coldMountRate([], SMALL_YOUNG, 1)]);
  }
  const { rss, rates } = byDefault;
  const runs = (x) => `${x.rss.map((v) => v.toFixed(0)).join(', ')} in ${reps} runs at ${median(x.rates).toFixed(0)} MB/s`;
  const pairRate = (k) => median(pairs.map((p) => p[k].rate));
  const pairRss = (k) => median(pairs.map((p) => p[k].rss));
  const floor = [];
  // Each of the 8 connections capped at an eighth of the mount's rate: garbage piles up with the rate.
  await setFaults({ latencyMs: 0, bandwidthBytesPerSec: Math.round((median(rates) * 1e6) / 8) });
  for (let i = 0; i < reps; i++) {
    const { stdout } = await execFile(process.execPath, [path.join(path.dirname(new URL(import.meta.url).pathname), 'download-floor.mjs'), url, String(bigFile.id), String(BIG), '8'], {
      env: { ...process.env, DATAVERSE_API_TOKEN: token },
    });
    floor.push(Number(/peak-rss-kib (\d+)/.exec(stdout)[1]) / 1024);
  }
  await setFaults({ latencyMs: 0, bandwidthBytesPerSec: 0 });
  const mine = median(rss);
  row('peak RSS, 8 parallel readers (MiB)', mine, 'mount', 150, 'target', mine / 150, `${runs(byDefault)}; vs the runtime's floor: ${(mine / median(floor)).toFixed(2)}`);
  const smallRss = median(small.rss);
  row('same, node --max-semi-space-size=1 (MiB)', smallRss, 'mount', 150, 'target', smallRss / 150,
    `${runs(small)}; one reader, in turns with the default: ${pairRss(1).toFixed(0)} vs ${pairRss(0).toFixed(0)} MiB, cold read ${pairRate(1).toFixed(0)} vs ${pairRate(0).toFixed(0)} MB/s`);
  row(`runtime's floor: peak RSS of 8 range downloads by a bare Node process (MiB)`, median(floor), 'node + undici', 150, 'target', median(floor) / 150,
    `${floor.map((x) => x.toFixed(0)).join(', ')}; same ranges and rate; no FUSE, cache or checksum (scripts/download-floor.mjs)`);
}

// 5b. 200 files of 600 KB: rsync -a from the mount (zips of 4 MiB, four at a time) vs wget -r; the mount's peak RSS
async function mediumFiles(label) {
  const m = await mount();
  const out = await mkdtemp(path.join(work, 'medium-out-'));
  await dropCaches();
  const s = await timed(`rsync -a '${path.join(m.mnt, mediumSet.rel)}/' '${out}/'`);
  const rss = await m.peakRssMiB();
  await m.close();
  await execFile('diff', ['-r', mediumDir, out]);
  const w = await mkdtemp(path.join(work, 'wget-medium-'));
  const wgetS = await timed(`wget -q -r -e robots=off -nH --cut-dirs=3 --content-disposition --header 'X-Dataverse-key: ${token}' -P '${w}' '${url}/api/datasets/${mediumSet.id}/dirindex/?version=1.0&original=true' || true`);
  row(`rsync -a ${MEDIUM.count} files of ${MEDIUM.size / 1000} KB, ${label} (s)`, s, 'mount', wgetS, 'wget -r', s / wgetS, `peak RSS of the mount ${rss.toFixed(0)} MiB; copies equal to the uploaded files`);
  await rm(out, { recursive: true, force: true });
  await rm(w, { recursive: true, force: true });
}

// 5. 2,000 small files: rsync -a from the mount vs wget -r of the dirindex; ls -lR
async function smallFiles(label) {
  const w = await mkdtemp(path.join(work, 'wget-'));
  const wgetS = await timed(`wget -q -r -e robots=off -nH --cut-dirs=3 --content-disposition --header 'X-Dataverse-key: ${token}' -P '${w}' '${url}/api/datasets/${many.id}/dirindex/?version=1.0&original=true' || true`);
  const count = Number((await execFile('bash', ['-c', `find '${w}' -type f -name 'station-*' | wc -l`])).stdout);
  const m = await mount();
  const r = await mkdtemp(path.join(work, 'rsync-'));
  const rsyncS = await timed(`rsync -a '${path.join(m.mnt, manyRel)}/' '${r}/'`);
  const rcount = Number((await execFile('bash', ['-c', `find '${r}' -type f | wc -l`])).stdout);
  await m.close();
  if (label !== 'loopback') {
    row(`rsync -a 2,000 small files, ${label} (s)`, rsyncS, 'mount', wgetS, `wget -r (${count} files)`, rsyncS / wgetS, `${rcount} files copied; target ≤ 0.5`);
  } else {
    // The binding's own floor for this walk: the same files from memory, through fuse-native with dvfs's kernel cache settings.
    const cmnt = await mkdtemp(path.join(work, 'ceil-tree-'));
    const ceil = start(process.execPath, [path.join(path.dirname(new URL(import.meta.url).pathname), 'fuse-ceiling.mjs'), cmnt, 'tree', r], /ready/);
    await ceil.ready;
    mounts.add(cmnt);
    const r2 = await mkdtemp(path.join(work, 'rsync-ceil-'));
    await dropCaches();
    const floorS = await timed(`rsync -a '${cmnt}/' '${r2}/'`);
    await execFile('diff', ['-r', r, r2]);
    await stop(ceil);
    mounts.delete(cmnt);
    await rm(r2, { recursive: true, force: true });
    row(`rsync -a 2,000 small files, ${label} (s)`, rsyncS, 'mount', wgetS, `wget -r (${count} files)`, rsyncS / wgetS,
      `${rcount} files copied; target ≤ 0.5; vs the binding's floor: ${(rsyncS / floorS).toFixed(2)}`);
    row(`FUSE binding's floor: rsync -a of the same files from memory (s)`, floorS, 'in-memory fuse-native', wgetS, 'wget -r', floorS / wgetS,
      'scripts/fuse-ceiling.mjs tree: no I/O behind it, the least any fuse-native mount takes');
  }
  const m2 = await mount();
  const before = (await control('/requests')).data.last;
  const lsS = await timed(`ls -lR '${path.join(m2.mnt, manyRel)}' > /dev/null`);
  const reqs = (await control(`/requests?since=${before}`)).data.entries.length;
  row(`ls -lR of that dataset, ${label} (s)`, lsS, 'mount', reqs, 'HTTP requests', NaN, '2 list pages of 1,000 + lookups of the path');
  await m2.close();
  await rm(w, { recursive: true, force: true });
  await rm(r, { recursive: true, force: true });
}
await smallFiles('loopback');
await mediumFiles('loopback');

// 6. slow link: 40 ms per request, 50 MiB/s per connection
await setFaults({ latencyMs: SLOW.latencyMs, bandwidthBytesPerSec: SLOW.bandwidth });
{
  const c = await curlRate(bigUrl, H);
  const m = await coldMountRate();
  row(`cold sequential read ${BIG_LABEL}, slow link (MB/s)`, m.rate, 'mount', c, 'curl', m.rate / c, `${SLOW.latencyMs} ms/request, ${SLOW.bandwidth / 2 ** 20} MiB/s per connection; target ≥ 2`);
}
await smallFiles('slow link');
await mediumFiles('slow link');
await control('/faults', { method: 'DELETE' });

// 7. reference: rclone mount and httpdirfs reading the same bytes from nginx
{
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  const root = path.join(work, 'www');
  await mkdir(root);
  await execFile('ln', [local, path.join(root, 'big.bin')]);
  await chmod(local, 0o644);
  const conf = path.join(work, 'nginx.conf');
  await writeFile(conf, `daemon off; pid ${work}/nginx.pid; error_log ${work}/nginx-error.log; worker_processes 1;
events {} http { access_log off; sendfile on; server { listen 127.0.0.1:${port}; root ${root}; autoindex on; } }`);
  const nginx = start('/usr/sbin/nginx', ['-c', conf, '-p', work], /$^/);
  await sleep(500);
  const nginxCurl = await curlRate(`http://127.0.0.1:${port}/big.bin`);
  const rmnt = await mkdtemp(path.join(work, 'rclone-'));
  const rclone = start('rclone', ['mount', ':http:', rmnt, '--http-url', `http://127.0.0.1:${port}/`, '--read-only', '--vfs-cache-mode', 'off'], /$^/);
  mounts.add(rmnt);
  for (let i = 0; i < 100; i++) {
    if ((await readFile('/proc/mounts', 'utf8')).includes(rmnt)) break;
    await sleep(100);
  }
  let rcloneRate = NaN;
  let rcloneNote = 'rclone 1.60, --vfs-cache-mode off';
  try {
    rcloneRate = mbps(BIG, await timed(`cat '${rmnt}/big.bin' > /dev/null`));
  } catch (e) {
    rcloneNote = `failed: ${String(e.stderr ?? e.message).trim().split('\n')[0]}`;
  }
  row('reference: rclone mount (http) of nginx (MB/s)', rcloneRate, 'rclone', nginxCurl, 'curl of nginx', rcloneRate / nginxCurl, rcloneNote);
  await stop(rclone);
  await execFile('fusermount', ['-uz', rmnt]).catch(() => {});
  mounts.delete(rmnt);
  const hmnt = await mkdtemp(path.join(work, 'httpdirfs-'));
  const hd = start('httpdirfs', ['-f', '--no-range-check', `http://127.0.0.1:${port}/`, hmnt], /$^/);
  mounts.add(hmnt);
  await sleep(1500);
  let note = '';
  let hdRate = NaN;
  try {
    hdRate = mbps(BIG, await timed(`timeout 120 cat '${hmnt}/big.bin' > /dev/null`));
  } catch (e) {
    // cat often fails without a word (timeout's 124, or EIO): httpdirfs's own last line says more.
    const why = String(e.stderr ?? '').trim().split('\n')[0] || (e.code === 124 ? 'not done within 120 s' : `cat exited ${e.code ?? '?'}`);
    note = `failed: ${why}; httpdirfs: ${hd.output().trim().split('\n').pop() || 'no output'}`;
  }
  row('reference: httpdirfs of nginx (MB/s)', hdRate, 'httpdirfs', nginxCurl, 'curl of nginx', hdRate / nginxCurl, note || 'Debian 1.2.5');
  await stop(hd);
  await execFile('fusermount', ['-uz', hmnt]).catch(() => {});
  mounts.delete(hmnt);
  await stop(nginx);
}

// --- the table ---
print('the mount against curl, wget, a local file and other FUSE mounts', `Sizes: ${BIG_LABEL} file, 2,000 small files (demo seed); medians of ${REPS} runs where repeated.`);
await stop(serve);
await cleanup();
