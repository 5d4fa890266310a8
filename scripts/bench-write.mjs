// Bench part "write": copying into a mount's draft until the server has
// everything, against a curl loop of `add` requests for the same files; and
// writing into the mount's staging area (before any upload) against writing
// the same file into the cache directory directly. Everything is measured in
// this one run and printed as one table of ratios. Run through scripts/bench.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cleanup, cpuSeconds, execFile, mbps, median, mounts, mountDvfs, REPS, start, stop, table, timed, timedCpu, workDir } from './bench-lib.mjs';

const CLI = process.env.DVFS_CLI;
if (!CLI) throw new Error('run through scripts/bench');
const MiB = 1024 * 1024;
const SMALL_COUNT = Number(process.env.BENCH_WRITE_FILES ?? 200);
const SMALL = MiB;
const BIG = Number(process.env.BENCH_WRITE_SIZE ?? 1024 * MiB);

// The cache directory and the source files on the same disk, next to each other.
const work = await workDir('dvfs-bench-write-');

async function randomFile(file, size) {
  const out = createWriteStream(file);
  for (let done = 0; done < size; ) {
    const n = Math.min(8 * MiB, size - done);
    if (!out.write(randomBytes(n))) await new Promise((r) => out.once('drain', r));
    done += n;
  }
  await new Promise((r) => out.end(r));
}

// --- the server, a collection, and one empty dataset per measurement ---
const serve = start(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', path.join(work, 'serve')], /listening on (http:\/\/\S+)/);
const url = (await serve.ready)[1];
const token = (await readFile(path.join(work, 'serve', 'admin-token'), 'utf8')).trim();
const api = async (p, init = {}) => {
  const r = await fetch(`${url}/api/v1${p}`, { ...init, headers: { 'X-Dataverse-key': token, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const j = await r.json();
  if (j.status !== 'OK') throw new Error(`${p}: ${JSON.stringify(j).slice(0, 300)}`);
  return j.data;
};
await api('/dataverses/root', {
  method: 'POST',
  body: JSON.stringify({ alias: 'wbench', name: 'Write bench', dataverseContacts: [{ contactEmail: 'b@example.org' }], dataverseType: 'LABORATORY' }),
});
await api('/dataverses/wbench/actions/:publish', { method: 'POST' });
const newDataset = async (title) => {
  const d = await api('/dataverses/wbench/datasets', {
    method: 'POST',
    body: JSON.stringify({
      datasetVersion: {
        license: { name: 'CC0 1.0', uri: 'http://creativecommons.org/publicdomain/zero/1.0' },
        metadataBlocks: { citation: { fields: [{ typeName: 'title', multiple: false, typeClass: 'primitive', value: title }] } },
      },
    }),
  });
  return { id: d.id, folder: d.persistentId.replace(':', '-').replace(/\//g, '-') };
};
const fileCount = async (id) => (await api(`/datasets/${id}/versions/:draft/files`)).length;

// --- the files ---
const small = path.join(work, 'small');
await mkdir(small);
for (let i = 0; i < SMALL_COUNT; i++) await writeFile(path.join(small, `f-${String(i).padStart(3, '0')}.bin`), randomBytes(SMALL));
const big = path.join(work, 'big.bin');
await randomFile(big, BIG);

// --- mounts ---
async function mount(args = []) {
  const m = await mountDvfs({ cli: CLI, url, token, args });
  return {
    ...m,
    draft: (ds) => path.join(m.mnt, 'wbench', ds.folder, 'draft'),
    sync: `node '${CLI}' sync '${m.mnt}' 2>/dev/null`,
    close: (signal) => m.close(signal, 600_000), // unmount waits for pending uploads
  };
}

const { rows, row, print } = table('write');
const H = `-H 'X-Dataverse-key: ${token}'`;
const curlAdd = (file, ds) => `curl -sS -f -o /dev/null ${H} -F "file=@${file}" -F 'jsonData={"tabIngest":"false"}' '${url}/api/v1/datasets/${ds.id}/add'`;

// Every dataset exists before the mounts list the collection (its listing is cached for --metadata-ttl).
const runs = [];
for (let i = 0; i < REPS; i++) {
  runs.push({
    curlSmall: await newDataset(`curl small ${i}`),
    mountSmall: await newDataset(`mount small ${i}`),
    curlBig: await newDataset(`curl big ${i}`),
    mountBig: await newDataset(`mount big ${i}`),
  });
}
const staging = await newDataset('staging');

// 1. Copy-in until the server has everything vs a curl loop (alternating, REPS times each; fresh datasets every time).
{
  const m = await mount();
  const smallCurl = [];
  const smallMount = [];
  const bigCurl = [];
  const bigMount = [];
  const parts = { smallCp: [], bigCp: [] };
  // CPU seconds of the big copy-in: the client side (cp + the mount process, or curl) and the server.
  const cpu = { mount: [], mountServer: [], curl: [], curlServer: [] };
  for (const { curlSmall: a, mountSmall: b, curlBig: c, mountBig: d } of runs) {
    smallCurl.push(await timed(`for f in '${small}'/*; do ${curlAdd('$f', a)}; done`));
    // One timed command, but the copy's share is noted too (the uploads start during the copy, after the quiet period).
    const cpSmall = await timed(`cp -r '${small}/.' '${m.draft(b)}/'`);
    smallMount.push(cpSmall + (await timed(m.sync)));
    parts.smallCp.push(cpSmall);
    if ((await fileCount(b.id)) !== SMALL_COUNT || (await fileCount(a.id)) !== SMALL_COUNT) throw new Error('a copy-in did not land every file');
    const s0 = await cpuSeconds(serve.p.pid);
    const curlBig = await timedCpu(curlAdd(big, c));
    const s1 = await cpuSeconds(serve.p.pid);
    const m1 = await cpuSeconds(m.pid);
    const cpBig = await timedCpu(`cp '${big}' '${m.draft(d)}/'`);
    bigMount.push(cpBig.wall + (await timed(m.sync)));
    bigCurl.push(curlBig.wall);
    parts.bigCp.push(cpBig.wall);
    cpu.curl.push(curlBig.cpu);
    cpu.curlServer.push(s1 - s0);
    cpu.mount.push(cpBig.cpu + (await cpuSeconds(m.pid)) - m1);
    cpu.mountServer.push((await cpuSeconds(serve.p.pid)) - s1);
    if ((await fileCount(d.id)) !== 1) throw new Error('the big copy-in did not land');
  }
  await m.close();
  const [sm, sc, bm, bc] = [median(smallMount), median(smallCurl), median(bigMount), median(bigCurl)];
  row(`copy-in ${SMALL_COUNT} files of 1 MiB until on the server (s)`, sm, 'cp + dvfs sync', sc, 'curl add loop', sm / sc, `target ≤ 1.2; cp ${median(parts.smallCp).toFixed(2)} s of it`);
  row(`copy-in one ${BIG / 1024 / MiB} GiB file until on the server (s)`, bm, 'cp + dvfs sync', bc, 'curl add', bm / bc, `target ≤ 1.2; cp ${median(parts.bigCp).toFixed(2)} s of it`);
  const [cm, cms, cc, ccs] = [median(cpu.mount), median(cpu.mountServer), median(cpu.curl), median(cpu.curlServer)];
  row('CPU for that copy-in (s)', cm, 'cp + mount process', cc, 'curl', cm / cc, `server ${cms.toFixed(2)} s vs ${ccs.toFixed(2)} s; ${os.cpus().length} CPUs`);
}

// 2. Writing into the staging area (a long quiet period and no streamed uploads: nothing is uploaded meanwhile) vs into the cache directory.
{
  const m = await mount(['--quiet-period', '3600', '--stream-from', 'off']);
  const ds = staging;
  const direct = path.join(m.cacheDir, 'direct.bin');
  const plain = { mount: [], local: [] };
  const durable = { mount: [], local: [] };
  await timed(`cat '${big}' > /dev/null`);
  for (let i = 0; i < REPS; i++) {
    plain.mount.push(mbps(BIG, await timed(`dd if='${big}' of='${m.draft(ds)}/staged-${i}.bin' bs=1M status=none`)));
    plain.local.push(mbps(BIG, await timed(`dd if='${big}' of='${direct}' bs=1M status=none`)));
    await rm(direct, { force: true });
  }
  for (let i = 0; i < REPS; i++) {
    durable.mount.push(mbps(BIG, await timed(`dd if='${big}' of='${m.draft(ds)}/durable-${i}.bin' bs=1M conv=fsync status=none`)));
    durable.local.push(mbps(BIG, await timed(`dd if='${big}' of='${direct}' bs=1M conv=fsync status=none`)));
    await rm(direct, { force: true });
  }
  // Nothing of this is wanted on the server: leave it in the journal and drop the cache directory.
  await execFile(process.execPath, [CLI, 'unmount', m.mnt, '--force']).catch(() => {});
  await m.close();
  await rm(m.cacheDir, { recursive: true, force: true });
  const [pm, pl, dm, dl] = [median(plain.mount), median(plain.local), median(durable.mount), median(durable.local)];
  row(`write ${BIG / 1024 / MiB} GiB into the staging area (MB/s)`, pm, 'mount', pl, 'cache dir', pm / pl, 'dd bs=1M; target ≥ 0.5');
  row(`same, with fsync at the end (MB/s)`, dm, 'mount', dl, 'cache dir', dm / dl, 'dd conv=fsync');
}

// 3. Reference: the FUSE binding's write ceiling (a handler that drops the bytes).
{
  const mnt = await mkdtemp(path.join(work, 'ceil-'));
  const ceil = start(process.execPath, [path.join(path.dirname(new URL(import.meta.url).pathname), 'fuse-ceiling.mjs'), mnt, '0', 'write'], /ready/);
  await ceil.ready;
  mounts.add(mnt);
  const xs = [];
  for (let i = 0; i < REPS; i++) xs.push(mbps(BIG, await timed(`dd if='${big}' of='${mnt}/file' bs=1M status=none`)));
  await stop(ceil);
  mounts.delete(mnt);
  const local = rows.find((r) => r.what.startsWith('write'))?.b ?? NaN;
  row('reference: FUSE write ceiling, big_writes (MB/s)', median(xs), 'no-op handler', local, 'cache dir', median(xs) / local, 'fuse-native, 128 KiB requests');
}

// --- the table ---
print(
  'copying into a draft against curl, and the staging area against the cache directory',
  `Sizes: ${SMALL_COUNT} files of 1 MiB and one ${BIG / 1024 / MiB} GiB file; medians of ${REPS} runs. "Until on the server" ends when \`dvfs sync\` returns.`,
);
await stop(serve);
await cleanup();
