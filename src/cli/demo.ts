// `dvfs demo`: start the built-in server with the demo data and mount it, in one command.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { datasetFolderName } from '../tree/names.js';
import { mountAndWait } from './mount.js';
import { defaultCacheDir } from './runtime.js';

const HELP = `Usage: dvfs demo [mountpoint] [options]

Starts the built-in Dataverse-compatible server with demonstration data (built
once, kept in --data-dir) and mounts it at [mountpoint] (default ./dvfs-demo).
Ctrl-C unmounts and stops the server.

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

  // The server runs in its own process, started before the mount opens /dev/fuse.
  const server = spawn(process.execPath, [CLI, 'serve', '--seed', 'demo', '--port', values.port!, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stopServer = () => {
    if (server.exitCode === null) server.kill('SIGTERM');
  };
  process.once('exit', stopServer);
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    server.once('exit', (code) => reject(new Error(`the demo server exited (${code}):\n${out}`)));
  });
  server.stdout!.resume();
  try {
    const tokens = JSON.parse(await readFile(path.join(dataDir, 'demo-tokens.json'), 'utf8')) as {
      users: Record<string, { username: string; token: string }>;
    };
    const token = who === 'guest' ? undefined : tokens.users[who].token;
    const tips = await demoTips(url, mountpoint);
    return await mountAndWait(
      {
        serverUrl: url,
        mountpoint,
        root: ':root',
        token,
        cacheDir: defaultCacheDir(),
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
    stopServer();
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
