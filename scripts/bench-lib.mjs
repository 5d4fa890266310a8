// What the bench parts share: a work folder that is cleaned up on exit and on
// Ctrl-C (with every mount and child process), starting and stopping
// processes, timing shell commands, and the table of ratios each part prints.
import { execFile as execFileCb, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export const execFile = promisify(execFileCb);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
export const mbps = (bytes, s) => bytes / s / 1e6;
export const REPS = Number(process.env.BENCH_REPS ?? 3);

const children = new Set();
/** Mountpoints to unmount lazily at cleanup (add and delete as mounts come and go). */
export const mounts = new Set();
let work;

/** A fresh work folder under the system temp folder, removed by cleanup(). */
export async function workDir(prefix) {
  work = await mkdtemp(path.join(os.tmpdir(), prefix));
  return work;
}

export async function cleanup() {
  for (const m of mounts) await execFile('fusermount', ['-uz', m]).catch(() => {});
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (work) await rm(work, { recursive: true, force: true }).catch(() => {});
}
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));
process.on('SIGTERM', () => cleanup().then(() => process.exit(143)));

/** Start a process; `ready` resolves with the match of `readyRe` in its output. */
export function start(cmd, args, readyRe, env = process.env) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(p);
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  const ready = new Promise((resolve, reject) => {
    // unref: processes started with a pattern that never matches (nginx, rclone) must not keep the bench alive after its table.
    const t = setTimeout(() => reject(new Error(`${cmd} did not start:\n${out}`)), 300_000).unref();
    const check = () => {
      const m = readyRe.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m);
      }
    };
    p.stdout.on('data', check);
    p.stderr.on('data', check);
    p.once('exit', (code) => reject(new Error(`${cmd} exited ${code}:\n${out}`)));
  });
  ready.catch(() => {}); // stopping a process on purpose must not be an unhandled rejection
  return { p, ready, output: () => out };
}

/** Signal a started process and wait for it to exit (SIGKILL after `graceMs`). */
export async function stop(child, signal = 'SIGTERM', graceMs = 20_000) {
  if (child.p.exitCode !== null) return;
  const exited = new Promise((r) => child.p.once('exit', r));
  child.p.kill(signal);
  const t = setTimeout(() => child.p.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
  children.delete(child.p);
}

/**
 * `dvfs mount` of `url` on a new folder in the work folder, with the token in
 * its environment (never in its arguments); resolves once it is mounted.
 * `nodeArgs` go to node itself (e.g. V8 flags).
 */
export async function mountDvfs({ cli, url, token, cacheDir, args = [], nodeArgs = [] }) {
  const mnt = await mkdtemp(path.join(work, 'mnt-'));
  cacheDir ??= await mkdtemp(path.join(work, 'cache-'));
  const m = start(process.execPath, [...nodeArgs, cli, 'mount', url, mnt, '--cache-dir', cacheDir, ...args], /dvfs: mounted /, { ...process.env, DATAVERSE_API_TOKEN: token });
  await m.ready;
  mounts.add(mnt);
  return {
    mnt,
    cacheDir,
    pid: m.p.pid,
    async close(signal, graceMs) {
      await stop(m, signal, graceMs);
      mounts.delete(mnt);
    },
  };
}

/** CPU seconds (user + system) a process has used so far. */
export async function cpuSeconds(pid) {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (CLK_TCK is 100 on Linux)
}

/** Seconds a shell command takes, and the CPU seconds of the command itself (its processes, not the servers it talks to). */
export async function timedCpu(cmd) {
  const { stderr } = await execFile('bash', ['-c', `TIMEFORMAT='%R %U %S'; time { ${cmd}; }`], { maxBuffer: 1 << 26 });
  const [wall, user, sys] = stderr.trim().split(/\s+/).slice(-3).map(Number);
  return { wall, cpu: user + sys };
}

/** Seconds a shell command takes. */
export async function timed(cmd, opts = {}) {
  const t0 = performance.now();
  await execFile('bash', ['-c', cmd], { maxBuffer: 1 << 26, ...opts });
  return (performance.now() - t0) / 1000;
}

/** The rows of one part's table; each is also printed to stderr as it is measured (kept if a later step fails). */
export function table(part) {
  const rows = [];
  const row = (what, a, aUnit, b, bUnit, ratio, note = '') => {
    rows.push({ what, a, aUnit, b, bUnit, ratio, note });
    console.error(`bench ${part}: ${what}: ${a} ${aUnit} vs ${b} ${bUnit} (${ratio}) ${note}`);
  };
  const fmt = (x) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) : '–');
  const print = (title, sizes) => {
    console.log(`## ${part}: ${title}`);
    console.log();
    console.log(sizes);
    console.log();
    console.log('| measurement | dvfs | | baseline | | ratio | note |');
    console.log('| --- | ---: | --- | ---: | --- | ---: | --- |');
    for (const r of rows) console.log(`| ${r.what} | ${fmt(r.a)} | ${r.aUnit} | ${fmt(r.b)} | ${r.bUnit} | ${fmt(r.ratio)} | ${r.note} |`);
  };
  return { rows, row, print };
}
