// `dvfs serve --seed demo`: the demonstration installation the issue asks for,
// checked through the API (expected values are what the seed promises in the README).
import { readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from './helpers/api.js';
import { startServe, type ServeProcess } from './helpers/serve.js';

let srv: ServeProcess;
let tokens: Record<'superuser' | 'editor' | 'reader', { username: string; token: string }>;
let editor: Api;
let reader: Api;
let guest: Api;

beforeAll(async () => {
  srv = await startServe({ args: ['--seed', 'demo'], startTimeoutMs: 180_000 });
  tokens = JSON.parse(await readFile(path.join(srv.dataDir, 'demo-tokens.json'), 'utf8')).users;
  editor = new Api(srv.url, tokens.editor.token);
  reader = new Api(srv.url, tokens.reader.token);
  guest = new Api(srv.url);
}, 200_000);
afterAll(async () => srv?.dispose());

async function datasetIn(alias: string, title: string, api: Api = editor) {
  const r = await api.get(`/api/search?q=*&type=dataset&subtree=${alias}&per_page=100`);
  expect(r.status).toBe(200);
  const item = r.json.data.items.find((i: { name: string }) => i.name === title);
  expect(item, `${title} in ${alias}`).toBeDefined();
  return (await api.get(`/api/datasets/:persistentId/?persistentId=${item.global_id}`)).json.data;
}

describe('demo seed', () => {
  it('prints the three users with working tokens and keeps them in a 0600 file', async () => {
    expect((await stat(path.join(srv.dataDir, 'demo-tokens.json'))).mode & 0o777).toBe(0o600);
    for (const [kind, u] of Object.entries(tokens)) {
      expect(srv.output()).toContain(u.token);
      const me = await new Api(srv.url, u.token).get('/api/users/:me');
      expect(me.status, kind).toBe(200);
      expect(me.json.data.superuser).toBe(kind === 'superuser');
    }
  });

  it('has nested, published collections', async () => {
    const lab = await guest.get('/api/dataverses/survey-lab?returnOwners=true');
    expect(lab.status).toBe(200);
    expect(lab.json.data.isPartOf.identifier).toBe('social-science');
    expect((await guest.get('/api/dataverses/climate')).json.data.isReleased).toBe(true);
  });

  it('has a survey with versions 1.0, 1.1, 2.0 and a draft, three folder levels, an ingested CSV, a PNG, a restricted file and non-ASCII names', async () => {
    const ds = await datasetIn('survey-lab', 'Household Survey 2024');
    const versions = (await editor.get(`/api/datasets/${ds.id}/versions?excludeFiles=true`)).json.data;
    expect(versions.map((v: { versionState: string; versionNumber?: number; versionMinorNumber?: number }) =>
      v.versionState === 'DRAFT' ? 'draft' : `${v.versionNumber}.${v.versionMinorNumber}`)).toEqual(['draft', '2.0', '1.1', '1.0']);
    const files = (await editor.get(`/api/datasets/${ds.id}/versions/2.0/files`)).json.data as {
      label: string; directoryLabel?: string; restricted: boolean; dataFile: { contentType: string; originalFileName?: string; id: number };
    }[];
    const csv = files.find((f) => f.dataFile.originalFileName === 'responses.csv')!;
    expect(csv.label).toBe('responses.tab');
    expect(csv.directoryLabel).toBe('data/raw/2024');
    expect(files.some((f) => f.dataFile.contentType === 'image/png' && / /.test(f.label))).toBe(true);
    expect(files.some((f) => /[^\x00-\x7f]/.test(f.label))).toBe(true);
    const secret = files.find((f) => f.restricted)!;
    expect(secret).toBeDefined();
    expect((await reader.get(`/api/access/datafile/${secret.dataFile.id}`)).status).toBe(403);
    expect((await editor.get(`/api/access/datafile/${secret.dataFile.id}`)).status).toBe(200);
  });

  it('has a dataset of 2,000 small files and a 512 MiB file whose ranges the server produces', async () => {
    const many = await datasetIn('climate', 'Weather Station Readings');
    const page = await guest.get(`/api/datasets/${many.id}/versions/1.0/files?limit=1000`);
    expect(page.json.totalCount).toBe(2000);
    expect(page.json.data).toHaveLength(1000);
    const model = await datasetIn('climate', 'Regional Climate Model Output');
    const files = (await guest.get(`/api/datasets/${model.id}/versions/1.0/files`)).json.data;
    const big = files.find((f: { label: string }) => f.label === 'output.bin');
    expect(big.dataFile.filesize).toBeGreaterThanOrEqual(512 * 1024 * 1024);
    const size = big.dataFile.filesize as number;
    const tail = await guest.get(`/api/access/datafile/${big.dataFile.id}`, { headers: { Range: 'bytes=-100' } });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe(`bytes ${size - 100}-${size - 1}/${size}`);
    expect(tail.body).toHaveLength(100);
    expect(files.some((f: { label: string }) => f.label === 'stations.sqlite')).toBe(true);
  });

  it('has a never-published dataset that guests cannot see', async () => {
    const ds = await datasetIn('survey-lab', 'Pilot Study (unpublished)');
    expect(ds.publicationDate).toBeUndefined();
    expect((await guest.get(`/api/datasets/${ds.id}`)).status).toBe(401);
  });

  it('reuses a seeded data directory on restart', async () => {
    await srv.stop();
    const again = await startServe({ dataDir: srv.dataDir, args: ['--seed', 'demo'] });
    try {
      expect(again.output()).not.toContain('seeding');
      expect(again.output()).toContain(tokens.editor.token);
      // A second server on the same data directory would overwrite the first one's state.
      await expect(startServe({ dataDir: srv.dataDir })).rejects.toThrow(new RegExp(`another dvfs serve \\(process ${again.proc.pid}\\) uses the data directory`));
    } finally {
      await again.stop();
    }
  });

  it('says so when a seeding was interrupted (the tokens file, written last, is missing)', async () => {
    const file = path.join(srv.dataDir, 'demo-tokens.json');
    await rename(file, `${file}.away`);
    try {
      await expect(startServe({ dataDir: srv.dataDir, args: ['--seed', 'demo'] })).rejects.toThrow(/seeding was interrupted .*remove that folder and start again/);
    } finally {
      await rename(`${file}.away`, file);
    }
  });
});
