// Bad command-line values: a clear message naming the option, exit status 1,
// and nothing mounted or contacted (the server URL here answers nothing).
import { execFile as execFileCb } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI } from './helpers/serve.js';

const execFile = promisify(execFileCb);

async function dvfs(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const r = await execFile(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    return { code: 0, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stderr: x.stderr ?? '' };
  }
}

describe('dvfs mount with bad option values', () => {
  const cases: [string[], RegExp][] = [
    [['--stream-from', '0'], /--stream-from must be at least 1M \(or off\), got '0'/],
    [['--stream-from', 'soon'], /--stream-from needs a size like 500M or 20G, got 'soon'/],
    [['--cache-max-size', 'lots'], /--cache-max-size needs a size like 500M or 20G, got 'lots'/],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(' ')}: says why, exits 1, mounts nothing`, async () => {
      const mnt = await mkdtemp(path.join(os.tmpdir(), 'dvfs-args-'));
      try {
        const r = await dvfs(['mount', 'http://127.0.0.1:9', mnt, ...args]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(message);
        expect(await readFile('/proc/mounts', 'utf8')).not.toContain(` ${mnt} `);
      } finally {
        await rm(mnt, { recursive: true, force: true });
      }
    });
  }
});

describe('dvfs mount of a server it cannot use', () => {
  const cases: [string, number, RegExp][] = [
    ['127.0.0.1:9', 2, /'127\.0\.0\.1:9' is not a server URL; .*like https:\/\//],
    ['http://nonexistent.invalid', 1, /cannot reach http:\/\/nonexistent\.invalid: .*ENOTFOUND/],
  ];
  for (const [url, code, message] of cases) {
    it(`${url}: says why, exits ${code}, mounts nothing`, async () => {
      const mnt = await mkdtemp(path.join(os.tmpdir(), 'dvfs-args-'));
      try {
        const r = await dvfs(['mount', url, mnt]);
        expect(r.stderr).toMatch(message);
        expect(r.code).toBe(code);
        expect(await readFile('/proc/mounts', 'utf8')).not.toContain(` ${mnt} `);
      } finally {
        await rm(mnt, { recursive: true, force: true });
      }
    });
  }
});

describe('usage', () => {
  it('--help of every command exits 0; an unknown flag or a missing argument is a usage error, exit 2', async () => {
    for (const cmd of ['mount', 'unmount', 'refresh', 'status', 'sync', 'publish', 'demo', 'serve']) {
      expect((await dvfs([cmd, '--help'])).code, `${cmd} --help`).toBe(0);
    }
    const unknown = await dvfs(['status', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/dvfs status: Unknown option '--bogus'.*--help lists the flags/);
    for (const cmd of ['unmount', 'sync', 'publish']) {
      const missing = await dvfs([cmd]);
      expect(missing.code, `${cmd} without its argument`).toBe(2);
      expect(missing.stderr, `${cmd}: the usage goes to stderr`).toMatch(new RegExp(`Usage: dvfs ${cmd} `));
    }
  });
});
