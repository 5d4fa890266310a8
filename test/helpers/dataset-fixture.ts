// A small but varied installation built through the API for the mount tests.
// Every file's bytes are kept here, so tests compare the mount with what was
// uploaded, not with what the code under test says.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Api } from './api.js';
import { REPO } from './serve.js';
import {
  addFile,
  createCollection,
  createDataset,
  createUser,
  publishCollection,
  publishDataset,
  waitForNoLocks,
} from './fixtures.js';

export interface UploadedFile {
  /** Path inside the version folder as the mount must show it. */
  path: string;
  bytes: Buffer;
  restricted?: boolean;
}

export interface Fixture {
  editor: { token: string };
  reader: { token: string };
  datasetId: number;
  pid: string;
  /** Folder name the mount gives the dataset. */
  folder: string;
  unpublishedPid: string;
  /** Contents of each version folder: '1.0', '2.0', 'draft'. */
  versions: Record<string, UploadedFile[]>;
  csv: string;
}

export const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

export function folderFor(pid: string): string {
  // The documented mapping (README): protocol, '-', then '/' → '-'.
  return pid.replace(':', '-').replace(/\//g, '-');
}

export async function buildFixture(api: Api): Promise<Fixture> {
  const editor = await createUser(api, 'ed');
  const reader = await createUser(api, 'rita');
  await createCollection(api, 'root', 'lab', 'The Lab');
  await publishCollection(api, 'lab');
  await createCollection(api, 'lab', 'sub', 'Sub Lab');
  await publishCollection(api, 'sub');
  const r = await api.post('/api/dataverses/lab/assignments', { assignee: '@ed', role: 'curator' });
  if (r.status !== 200) throw new Error(`assign: ${r.status} ${r.text}`);
  const ed = api.as(editor.token);

  const { id, pid } = await createDataset(ed, 'lab', 'Mount Test Data');
  const csv = 'id,name,score\n1,"Smith, Ann",3.5\n2,Bo,4\n3,"Q ""the"" R",\n';
  const v1: UploadedFile[] = [
    { path: 'README.md', bytes: Buffer.from('# Mount test\n') },
    { path: 'data/raw/2024/big.bin', bytes: randomBytes(5 * 1024 * 1024 + 123) },
    { path: 'data/raw/2024/table.csv', bytes: Buffer.from(csv) },
    { path: 'docs/notes – ü.txt', bytes: Buffer.from('Unicode name, spaces and a dash.\n') },
    { path: 'db/stations.sqlite', bytes: readFileSync(path.join(REPO, 'assets', 'demo', 'stations.sqlite')) },
    { path: 'private/secret.txt', bytes: Buffer.from('top secret\n'), restricted: true },
    { path: 'empty.txt', bytes: Buffer.alloc(0) },
  ];
  for (const f of v1) {
    const dir = path.posix.dirname(f.path);
    const res = await addFile(ed, id, path.posix.basename(f.path), f.bytes, {
      directoryLabel: dir === '.' ? undefined : dir,
      restrict: f.restricted,
    });
    if (res.status !== 200) throw new Error(`add ${f.path}: ${res.status} ${res.text}`);
  }
  await waitForNoLocks(ed, id);
  await publishDataset(ed, id, 'major');
  const v2 = [...v1, { path: 'v2.txt', bytes: Buffer.from('added in 2.0\n') }];
  await addFile(ed, id, 'v2.txt', v2[v2.length - 1].bytes);
  await publishDataset(ed, id, 'major');
  const draft = [...v2, { path: 'drafts/draft-only.txt', bytes: Buffer.from('only in the draft\n') }];
  await addFile(ed, id, 'draft-only.txt', draft[draft.length - 1].bytes, { directoryLabel: 'drafts' });

  const unpublished = await createDataset(ed, 'sub', 'Never Published');
  await addFile(ed, unpublished.id, 'hidden.txt', 'not for guests\n');

  return {
    editor,
    reader,
    datasetId: id,
    pid,
    folder: folderFor(pid),
    unpublishedPid: unpublished.pid,
    versions: { '1.0': v1, '2.0': v2, draft },
    csv,
  };
}
