// `dvfs demo`: start the built-in server with the demo data and mount it, in one command.
import { spawn } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { datasetFolderName } from '../tree/names.js';
import { mountAndWait } from './mount.js';

const HELP = `Usage: dvfs demo [mountpoint] [options]

Starts the built-in Dataverse-compatible server with demonstration data (built
once, kept in --data-dir) and mounts it at [mountpoint] (default ./dvfs-demo).
Ctrl-C finishes the pending uploads, unmounts, then stops the server. The
mount's block cache and write journal live in <data-dir>/mount-cache, so a
change left by a crash is finished by the next 'dvfs demo' with that data dir.

Options:
  --as editor|reader|superuser|guest   whose token the mount uses (default editor)
  --data-dir DIR                       demo server data (default ~/.local/share/dvfs/demo)
  --port N                             demo server port (default: a free one)`;

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'main.js');

export async function runDemo(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      as: { type: 'string', default: 'editor' },
      'data-dir': { type: 'string' },
      port: { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const who = values.as!;
  if (!['editor', 'reader', 'superuser', 'guest'].includes(who)) {
    console.error(`dvfs demo: --as is editor, reader, superuser or guest, not '${who}'`);
    return 2;
  }
  const mountpoint = path.resolve(positionals[0] ?? 'dvfs-demo');
  const dataDir = path.resolve(values['data-dir'] ?? path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'dvfs', 'demo'));

  const firstRun = await access(path.join(dataDir, 'demo-tokens.json')).then(
    () => false,
    () => true,
  );
  if (firstRun) console.log(`dvfs demo: creating the demo data in ${dataDir} (about 30 s the first time)…`);

  // The server runs in its own process, started before the mount opens /dev/fuse, and in its own
  // process group: a terminal's Ctrl-C goes to the whole foreground group, and the server must
  // outlive the mount's last uploads; it is stopped below, once the mount is done. Its stdin is a
  // pipe from this process: when this process dies (even of kill -9) the pipe ends and the server
  // stops by itself (--exit-on-stdin-close).
  const server = spawn(
    process.execPath,
    [CLI, 'serve', '--seed', 'demo', '--port', values.port!, '--data-dir', dataDir, '--exit-on-stdin-close'],
    { stdio: ['pipe', 'pipe', 'inherit'], detached: true },
  );
  const serverExited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const running = () => server.exitCode === null && server.signalCode === null;
  const killServer = () => {
    if (running()) server.kill('SIGTERM');
  };
  process.once('exit', killServer); // last resort (an uncaught error ends the process)
  /** Stop the server and wait for it (SIGKILL after 10 s). */
  const stopServer = async () => {
    if (!running()) return;
    killServer();
    const t = setTimeout(() => server.kill('SIGKILL'), 10_000);
    await serverExited;
    clearTimeout(t);
  };

  // Ctrl-C while the server starts (or seeds the demo data): let it stop, then leave.
  let interrupted!: () => void;
  const interruptedP = new Promise<'interrupted'>((r) => (interrupted = () => r('interrupted')));
  const onStartupSignal = () => interrupted();
  process.on('SIGINT', onStartupSignal);
  process.on('SIGTERM', onStartupSignal);
  let out = '';
  const started = new Promise<string>((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    server.once('exit', (code) => reject(new Error(`the demo server exited (${code}):\n${out}`)));
  });
  started.catch(() => {});
  let url: string;
  try {
    const first = await Promise.race([started, interruptedP]);
    if (first === 'interrupted') {
      // Not SIGTERM: a server killed while it seeds leaves a half-built data directory that the
      // next run cannot use. The end of its stdin stops it once the demo data is complete.
      console.error(`dvfs demo: interrupted; the demo server stops${firstRun ? ' once the demo data is complete' : ''}`);
      server.stdin!.end();
      await serverExited;
      return 130;
    }
    url = first;
  } catch (e) {
    await stopServer();
    throw e;
  } finally {
    // From here on the mount handles Ctrl-C and SIGTERM (unmount after the uploads).
    process.off('SIGINT', onStartupSignal);
    process.off('SIGTERM', onStartupSignal);
  }
  server.stdout!.resume();
  try {
    const tokens = JSON.parse(await readFile(path.join(dataDir, 'demo-tokens.json'), 'utf8')) as {
      users: Record<string, { username: string; token: string }>;
    };
    const token = who === 'guest' ? undefined : tokens.users[who].token;
    const tips = await demoTips(url, mountpoint);
    // The cache and write journal belong to this data directory (the server's port changes
    // at every run): the next demo finds what a crash left, and runs do not pile up caches.
    const cacheDir = path.join(dataDir, 'mount-cache');
    return await mountAndWait(
      {
        serverUrl: url,
        mountpoint,
        root: ':root',
        token,
        cacheDir,
        serverDir: cacheDir,
        cacheMaxBytes: 2 * 2 ** 30,
        metadataTtlSeconds: 10,
        attrTimeoutSeconds: 5,
        tabular: 'original',
        showVariants: false,
        quietSeconds: 3,
        localOnly: [],
        readOnly: false,
        allowOther: false,
        debug: false,
      },
      () => console.log(`\nThe demo Dataverse is at ${url}; you are '${who}'.\n${tips}\nCtrl-C unmounts and stops the demo server.`),
    );
  } finally {
    // Only now, with the uploads done and the mount gone.
    if (running()) {
      await stopServer();
      console.log('dvfs demo: demo server stopped');
    }
  }
}

/** A few commands to try, with the real folder names of the demo datasets. */
async function demoTips(url: string, mnt: string): Promise<string> {
  const folder = async (alias: string, title: string) => {
    const res = await fetch(`${url}/api/v1/search?q=*&type=dataset&subtree=${alias.split('/').pop()}&per_page=100`);
    const items = ((await res.json()) as { data: { items: { name: string; global_id: string }[] } }).data.items;
    const item = items.find((i) => i.name === title);
    return item ? path.join(mnt, ...alias.split('/'), datasetFolderName(item.global_id)) : undefined;
  };
  const rel = (p: string | undefined) => (p ? path.relative(process.cwd(), p) || '.' : '?');
  const survey = await folder('social-science/survey-lab', 'Household Survey 2024').catch(() => undefined);
  const model = await folder('earth-sciences/climate', 'Regional Climate Model Output').catch(() => undefined);
  return [
    'Try:',
    `  ls ${rel(mnt)}/social-science/survey-lab`,
    `  ls -l ${rel(survey)}            # one folder per version, latest → newest`,
    `  head ${rel(survey)}/latest/data/raw/2024/responses.csv`,
    `  head -3 '${rel(survey)}/2.0/data/raw/2024/responses.csv@tab'   # a hidden Access API variant`,
    `  sqlite3 ${rel(model)}/1.0/stations.sqlite 'select name, count(*) from readings join stations on id = station_id group by 1 limit 5'`,
    `  getfattr -d ${rel(survey)}/2.0/README.md`,
  ].join('\n');
}
