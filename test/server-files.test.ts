// /api/files/* of `dvfs serve` (dataverse-api-notes.md §7, §8): replace,
// delete, metadata edits (rename/move), categories, restrict, and the GETs.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { Api } from './helpers/api.js';
import { addFile, createDataset, createUser, publishDataset } from './helpers/fixtures.js';
import { blobCount, download, draftFiles, md5, postRaw, replaceFile, updateMetadata, zipOf } from './server-files-helpers.js';

let srv: ServeProcess;
let api: Api;
let dataDir: string;
beforeAll(async () => {
  srv = await startServe({ args: ['--ingest-seconds', '1'] });
  dataDir = srv.dataDir;
  api = new Api(srv.url, srv.adminToken);
});
afterAll(async () => {
  await srv?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function newDataset(title = 'Files test'): Promise<number> {
  return (await createDataset(api, 'root', title)).id;
}

async function add(ds: number, name: string, data: string, json: Record<string, unknown> = {}): Promise<number> {
  const r = await addFile(api, ds, name, data, json);
  if (r.status !== 200) throw new Error(`add ${name}: ${r.status} ${r.text}`);
  return r.json.data.files[0].dataFile.id;
}

async function lockDataset(ds: number, type = 'EditInProgress'): Promise<void> {
  const r = await api.post(`/api/control/locks/${ds}?type=${type}&seconds=60`);
  expect(r.status).toBe(200);
}

async function unlockDataset(ds: number): Promise<void> {
  expect((await api.delete(`/api/datasets/${ds}/locks`)).status).toBe(200);
}

describe('POST /api/files/{id}/replace', () => {
  it('makes a new DataFile with previous/root ids and drops the old metadata (label, folder, description, categories)', async () => {
    const ds = await newDataset();
    const orig = await add(ds, 'a.txt', 'version one', { directoryLabel: 'docs', description: 'first', categories: ['Data'] });
    await publishDataset(api, ds);
    const r = await replaceFile(api, orig, 'b.txt', 'version two');
    expect(r.status).toBe(200);
    expect(r.json.message).toBeUndefined();
    const fm = r.json.data.files[0];
    const first = fm.dataFile.id;
    expect(first).not.toBe(orig);
    expect(fm.label).toBe('b.txt');
    expect(fm.directoryLabel).toBeUndefined(); // moved to the root unless resent
    expect(fm.description).toBe('');
    expect(fm.categories).toBeUndefined();
    expect(fm.dataFile.previousDataFileId).toBe(orig);
    expect(fm.dataFile.rootDataFileId).toBe(orig);
    expect(fm.dataFile.md5).toBe(md5('version two'));
    // The draft holds only the new file; the old one stays in 1.0 and downloadable.
    expect((await draftFiles(api, ds)).map((f) => f.dataFile.id)).toEqual([first]);
    expect((await download(api, orig)).text).toBe('version one');
    const released = await api.get(`/api/datasets/${ds}/versions/1.0/files`);
    expect(released.json.data.map((f: { dataFile: { id: number } }) => f.dataFile.id)).toEqual([orig]);

    // A second replace (resending folder and label) chains: previous = first new id, root = original.
    await publishDataset(api, ds);
    const again = await replaceFile(api, first, 'ignored.txt', 'version three', { label: 'c.txt', directoryLabel: 'docs' });
    expect(again.status).toBe(200);
    const fm2 = again.json.data.files[0];
    expect(fm2.label).toBe('c.txt');
    expect(fm2.directoryLabel).toBe('docs');
    expect(fm2.dataFile.previousDataFileId).toBe(first);
    expect(fm2.dataFile.rootDataFileId).toBe(orig);
  });

  it('replaces a draft-only file: new id, no chain, the old row and bytes are gone', async () => {
    const ds = await newDataset();
    const orig = await add(ds, 'draft.txt', 'draft bytes');
    const blobsBefore = await blobCount(dataDir);
    const r = await replaceFile(api, orig, 'draft.txt', 'new draft bytes');
    expect(r.status).toBe(200);
    const df = r.json.data.files[0].dataFile;
    expect(df.id).not.toBe(orig);
    expect(df.rootDataFileId).toBe(-1);
    expect(df.previousDataFileId).toBeUndefined();
    expect(r.json.data.files[0].label).toBe('draft.txt'); // its own old name does not count as taken
    expect(await blobCount(dataDir)).toBe(blobsBefore); // one blob in, one out
    expect((await download(api, orig)).status).toBe(404);
    const gone = await api.get(`/api/files/${orig}`);
    expect(gone.status).toBe(404);
    expect(gone.json.message).toBe(`File with ID ${orig} not found.`);
  });

  it('refuses a different content type unless forceReplace', async () => {
    const ds = await newDataset();
    const orig = await add(ds, 'notes.txt', 'plain text');
    const gif = Buffer.from('GIF89a fake gif');
    const refused = await replaceFile(api, orig, 'pic.gif', gif, undefined, 'image/gif');
    expect(refused.status).toBe(400);
    expect(refused.json).toEqual({
      status: 'ERROR',
      message: 'The original file (Plain Text) and replacement file (GIF Image) are different file types.',
    });
    const forced = await replaceFile(api, orig, 'pic.gif', gif, { forceReplace: true }, 'image/gif');
    expect(forced.status).toBe(200);
    expect(forced.json.data.files[0].dataFile.contentType).toBe('image/gif');
  });

  it('takes a part without Content-Type as text/plain (on /add it would be octet-stream, overridden by the name)', async () => {
    const ds = await newDataset();
    const added = await postRaw(api, `/api/datasets/${ds}/add`, [{ name: 'file', filename: 'pic.png', data: 'png-ish' }]);
    expect(added.json.data.files[0].dataFile.contentType).toBe('image/png');
    const pngId = added.json.data.files[0].dataFile.id;
    const r = await postRaw(api, `/api/files/${pngId}/replace`, [{ name: 'file', filename: 'pic2.png', data: 'png-ish 2' }]);
    expect(r.status).toBe(400);
    expect(r.json.message).toBe('The original file (PNG Image) and replacement file (Plain Text) are different file types.');
    const txt = await add(ds, 'readme.txt', 'text one');
    const ok = await postRaw(api, `/api/files/${txt}/replace`, [{ name: 'file', filename: 'readme.txt', data: 'text two' }]);
    expect(ok.status).toBe(200);
    expect(ok.json.data.files[0].dataFile.contentType).toBe('text/plain');
  });

  it('refuses identical content, files not in the latest version, unknown ids, and multi-file zips', async () => {
    const ds = await newDataset();
    const orig = await add(ds, 'same.txt', 'same content');
    const dup = await replaceFile(api, orig, 'same.txt', 'same content');
    expect(dup.status).toBe(400);
    expect(dup.json.message).toBe('Error! You may not replace a file with a file that has duplicate content.');

    const missing = await replaceFile(api, 999999, 'x.txt', 'x');
    expect(missing.status).toBe(400);
    expect(missing.json.message).toBe('Replacement file not found. There was no file found for ID: 999999');

    const zip = await zipOf({ 'one.txt': '1', 'two.txt': '2' });
    const multi = await replaceFile(api, orig, 'pair.zip', zip, { forceReplace: true });
    expect(multi.status).toBe(400);
    expect(multi.json.message).toBe(
      'You cannot replace a single file with multiple files. The file you uploaded was ingested into multiple files.',
    );
    const single = await replaceFile(api, orig, 'single.zip', await zipOf({ 'inner.txt': 'inner text' }));
    expect(single.status).toBe(200);
    expect(single.json.data.files[0].label).toBe('inner.txt');

    const ds2 = await newDataset();
    const gone = await add(ds2, 'gone.txt', 'gone');
    await publishDataset(api, ds2);
    expect((await api.delete(`/api/files/${gone}`)).json.data).toBe(false);
    const notLatest = await replaceFile(api, gone, 'gone.txt', 'back again');
    expect(notLatest.status).toBe(400);
    expect(notLatest.json.message).toBe(
      'You cannot replace a file that is not in the most recently published dataset. (The file is unpublished or was deleted from a previous version.)',
    );
  });

  it('answers 403 without permission and 400 "Failed to add file to dataset." under a lock', async () => {
    const ds = await newDataset();
    const orig = await add(ds, 'p.txt', 'p');
    const bob = await createUser(api, 'replace-bob');
    const denied = await replaceFile(api.as(bob.token), orig, 'p.txt', 'bob was here');
    expect(denied.status).toBe(403);
    expect(denied.json.message).toBe('You do not have permission to edit this dataset.');
    await lockDataset(ds);
    const before = await blobCount(dataDir);
    const locked = await replaceFile(api, orig, 'p.txt', 'locked out');
    expect(locked.status).toBe(400);
    expect(locked.json.message).toBe('Failed to add file to dataset.');
    expect(await blobCount(dataDir)).toBe(before);
    await unlockDataset(ds);
  });
});

describe('DELETE /api/files/{id}', () => {
  it('destroys a never-released file (data:true): bytes and row gone', async () => {
    const ds = await newDataset();
    const id = await add(ds, 'tmp.txt', 'temporary');
    const before = await blobCount(dataDir);
    const r = await api.delete(`/api/files/${id}`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'OK', data: true });
    expect(await blobCount(dataDir)).toBe(before - 1);
    expect((await download(api, id)).status).toBe(404);
    expect((await api.get(`/api/files/${id}`)).status).toBe(404);
    expect(await draftFiles(api, ds)).toEqual([]);
  });

  it('only removes a released file from the draft (data:false); it stays in 1.0 and downloadable', async () => {
    const ds = await newDataset();
    const id = await add(ds, 'kept.txt', 'kept bytes');
    const other = await add(ds, 'other.txt', 'other bytes');
    await publishDataset(api, ds);
    const r = await api.delete(`/api/files/${id}`);
    expect(r.json).toEqual({ status: 'OK', data: false });
    expect((await draftFiles(api, ds)).map((f) => f.dataFile.id)).toEqual([other]);
    const v1 = await api.get(`/api/datasets/${ds}/versions/1.0/files`);
    expect(v1.json.data.map((f: { dataFile: { id: number } }) => f.dataFile.id).sort()).toEqual([id, other].sort());
    expect((await download(api, id)).text).toBe('kept bytes');
  });

  it('fails with 400 "Delete failed for file ID N (CommandException): …" without permission or under a lock, not under Ingest', async () => {
    const ds = await newDataset();
    const id = await add(ds, 'guarded.txt', 'guarded');
    const bob = await createUser(api, 'delete-bob');
    const denied = await api.as(bob.token).delete(`/api/files/${id}`);
    expect(denied.status).toBe(400);
    expect(denied.json.message).toMatch(new RegExp(`^Delete failed for file ID ${id} \\(CommandException\\): `));
    await lockDataset(ds);
    const locked = await api.delete(`/api/files/${id}`);
    expect(locked.status).toBe(400);
    expect(locked.json).toEqual({
      status: 'ERROR',
      message: `Delete failed for file ID ${id} (CommandException): Dataset cannot be edited due to dataset lock.`,
    });
    await unlockDataset(ds);
    await lockDataset(ds, 'Ingest');
    expect((await api.delete(`/api/files/${id}`)).json.data).toBe(true);
    await unlockDataset(ds);
    const missing = await api.delete('/api/files/999999');
    expect(missing.status).toBe(404);
    expect(missing.json.message).toBe('File with ID 999999 not found.');
  });
});

describe('POST /api/files/{id}/metadata', () => {
  const PREFIX = 'File Metadata update has been completed: ';

  it('renames and moves, keeping the id; answers text/plain with the Gson JSON', async () => {
    const ds = await newDataset();
    const id = await add(ds, 'old.txt', 'rename me', { description: 'keep me' });
    const r = await updateMetadata(api, id, { label: 'new.txt', directoryLabel: 'sub/dir' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(r.text.startsWith(PREFIX)).toBe(true);
    const body = JSON.parse(r.text.slice(PREFIX.length));
    expect(body).toMatchObject({ label: 'new.txt', directoryLabel: 'sub/dir', description: 'keep me', restricted: false });
    expect(typeof body.id).toBe('number');
    const f = await api.get(`/api/files/${id}`);
    expect(f.json.data).toMatchObject({ label: 'new.txt', directoryLabel: 'sub/dir', description: 'keep me' });
    expect(f.json.data.dataFile.id).toBe(id);
  });

  it('accepts jsonData as a urlencoded form field too', async () => {
    const ds = await newDataset();
    const id = await add(ds, 'form.txt', 'form');
    const r = await api.request(`/api/files/${id}/metadata`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ jsonData: JSON.stringify({ description: 'via form' }) }).toString(),
    });
    expect(r.status).toBe(200);
    expect((await api.get(`/api/files/${id}`)).json.data.description).toBe('via form');
  });

  it('refuses a name collision with 400 (no automatic -1)', async () => {
    const ds = await newDataset();
    await add(ds, 'taken.txt', 'one', { directoryLabel: 'd' });
    const id = await add(ds, 'mine.txt', 'two');
    const r = await updateMetadata(api, id, { label: 'taken.txt', directoryLabel: 'd' });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ status: 'ERROR', message: 'Filename already exists at d/taken.txt' });
    const moveOnly = await updateMetadata(api, (await draftFiles(api, ds)).find((f) => f.label === 'taken.txt').dataFile.id, {
      directoryLabel: '',
      label: 'mine.txt',
    });
    // The check uses the raw incoming folder ("" → "/mine.txt"), so this one is not caught: it is a move to the root.
    expect(moveOnly.status).toBe(200);
    expect((await api.get(`/api/files/${id}`)).json.data.label).toBe('mine.txt');
  });

  it('clears fields given empty values (6.8+) and leaves omitted ones alone', async () => {
    const ds = await newDataset();
    const id = await add(ds, 'full.txt', 'full', { directoryLabel: 'x', description: 'desc', categories: ['A', 'B'] });
    const r = await updateMetadata(api, id, { description: '', categories: [], directoryLabel: '' });
    expect(r.status).toBe(200);
    const f = (await api.get(`/api/files/${id}`)).json.data;
    expect(f.description).toBe('');
    expect(f.categories).toBeUndefined();
    expect(f.directoryLabel).toBeUndefined();
    expect(f.label).toBe('full.txt');
    const r2 = await updateMetadata(api, id, { categories: ['C'], restrict: true });
    expect(JSON.parse(r2.text.slice(PREFIX.length))).toMatchObject({ label: 'full.txt', restricted: true, categories: ['C'] });
  });

  it('creates a draft on a published dataset, keeping the DataFile id; the published label stays', async () => {
    const ds = await newDataset();
    const id = await add(ds, 'pub.txt', 'pub');
    await publishDataset(api, ds);
    const r = await updateMetadata(api, id, { label: 'renamed.txt' });
    expect(r.status).toBe(200);
    expect((await draftFiles(api, ds)).map((f) => [f.dataFile.id, f.label])).toEqual([[id, 'renamed.txt']]);
    expect((await api.get(`/api/files/${id}/versions/1.0`)).json.data.label).toBe('pub.txt');
  });

  it('answers the 500 catch-all for locks and invalid names, and 400s for replaced ids, bad ids, bad JSON', async () => {
    const ds = await newDataset();
    const id = await add(ds, 'edit.txt', 'edit');
    const badName = await updateMetadata(api, id, { label: 'bad:name.txt' });
    expect(badName.status).toBe(500);
    expect(badName.json.message).toMatch(/^Error adding metadata to DataFile: /);
    expect(badName.json.message).toContain('File Name cannot contain any of the following characters');
    await lockDataset(ds);
    const locked = await updateMetadata(api, id, { description: 'nope' });
    expect(locked.status).toBe(500);
    expect(locked.json.message).toMatch(/^Error adding metadata to DataFile: .*Dataset cannot be edited due to dataset lock\.$/);
    await unlockDataset(ds);
    expect((await api.get(`/api/files/${id}`)).json.data).toMatchObject({ label: 'edit.txt', description: '' });

    const badJson = await updateMetadata(api, id, '{"label": ');
    expect(badJson.status).toBe(400);
    expect(badJson.json.message).toBe('Error in parsing provided json');
    const missing = await updateMetadata(api, 999999, { label: 'x.txt' });
    expect(missing.status).toBe(400);
    expect(missing.json.message).toBe('Error attempting get the requested data file.');

    await publishDataset(api, ds);
    const replaced = await replaceFile(api, id, 'edit.txt', 'edit 2');
    expect(replaced.status).toBe(200);
    const old = await updateMetadata(api, id, { description: 'too late' });
    expect(old.status).toBe(400);
    expect(old.json.message).toBe('You cannot edit metadata on a dataFile that has been replaced. Please try again with the newest file id.');
  });
});

describe('categories and restrict', () => {
  it('adds categories, replaces them with ?replace=true, clears with []', async () => {
    const ds = await newDataset();
    const id = await add(ds, 'cat.txt', 'cat', { categories: ['Data'] });
    const r = await api.post(`/api/files/${id}/metadata/categories`, { categories: ['Custom', 'Data'] });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'OK', data: { message: `Categories of file ${id} updated.` } });
    expect((await api.get(`/api/files/${id}`)).json.data.categories).toEqual(['Data', 'Custom']);
    await api.post(`/api/files/${id}/metadata/categories?replace=true`, { categories: ['Only'] });
    expect((await api.get(`/api/files/${id}`)).json.data.categories).toEqual(['Only']);
    await api.post(`/api/files/${id}/metadata/categories?replace=true`, { categories: [] });
    expect((await api.get(`/api/files/${id}`)).json.data.categories).toBeUndefined();
    await lockDataset(ds);
    const locked = await api.post(`/api/files/${id}/metadata/categories`, { categories: ['X'] });
    expect(locked.status).toBe(403);
    expect(locked.json.message).toBe('Dataset cannot be edited due to dataset lock.');
    await unlockDataset(ds);
  });

  it('restricts and unrestricts with the real messages and errors', async () => {
    const ds = await newDataset();
    const id = await add(ds, 'secret.txt', 'secret');
    const r = await api.put(`/api/files/${id}/restrict`, 'true');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'OK', data: { message: 'File secret.txt restricted.' } });
    expect((await api.get(`/api/files/${id}`)).json.data.restricted).toBe(true);
    const again = await api.put(`/api/files/${id}/restrict`, 'true');
    expect(again.status).toBe(400);
    expect(again.json.message).toBe('Problem trying to update restriction status on secret.txt: File secret.txt is already restricted');
    const json = await api.put(`/api/files/${id}/restrict`, '{"restrict":false}');
    expect(json.json.data.message).toBe('File secret.txt unrestricted.');
    const missing = await api.put('/api/files/999999/restrict', 'true');
    expect(missing.status).toBe(400);
    expect(missing.json.message).toBe('Could not find datafile with id 999999');
    await lockDataset(ds);
    const locked = await api.put(`/api/files/${id}/restrict`, 'true');
    expect(locked.status).toBe(400);
    expect(locked.json.message).toBe('Problem saving datafile secret.txt: Dataset cannot be edited due to dataset lock.');
    await unlockDataset(ds);
  });
});

describe('GET /api/files/{id}', () => {
  it('returns the file-metadata envelope for :latest and specific versions, with returnDatasetVersion', async () => {
    const ds = await newDataset();
    const id = await add(ds, 'get.txt', 'get me');
    await publishDataset(api, ds);
    await updateMetadata(api, id, { description: 'draft description' });
    const latest = await api.get(`/api/files/${id}?returnDatasetVersion=true`);
    expect(latest.status).toBe(200);
    expect(latest.json.data.description).toBe('draft description');
    expect(latest.json.data.datasetVersion.versionState).toBe('DRAFT');
    expect(latest.json.data.datasetVersion.files).toBeUndefined();
    const v1 = await api.get(`/api/files/${id}/versions/1.0`);
    expect(v1.json.data.description).toBe('');
    expect((await api.get(`/api/files/${id}/versions/:draft`)).json.data.description).toBe('draft description');
    expect((await api.get(`/api/files/${id}/versions/:latest-published`)).json.data.description).toBe('');
    const bad = await api.get(`/api/files/${id}/versions/foo`);
    expect(bad.status).toBe(400);
    expect(bad.json.message).toBe("Illegal version identifier 'foo'");
    const absent = await api.get(`/api/files/${id}/versions/7.0`);
    expect(absent.status).toBe(404);
    expect(absent.json.message).toBe(`"File metadata for file with id ${id} in dataset version 7.0 not found"`);
    // Guests see the published metadata.
    const guest = await api.as(undefined).get(`/api/files/${id}`);
    expect(guest.status).toBe(200);
    expect(guest.json.data.description).toBe('');
  });

  it('hides unpublished files from others (401)', async () => {
    const ds = await newDataset();
    const id = await add(ds, 'private.txt', 'private');
    const bob = await createUser(api, 'get-bob');
    const r = await api.as(bob.token).get(`/api/files/${id}`);
    expect(r.status).toBe(401);
    expect(r.json.message).toBe('User @get-bob is not permitted to perform requested action.');
  });

  it('serves /metadata (latest published) and /metadata/draft as raw text/plain JSON', async () => {
    const ds = await newDataset();
    const id = await add(ds, 'meta.txt', 'meta', { description: 'published one', directoryLabel: 'm' });
    await publishDataset(api, ds);
    const noDraft = await api.get(`/api/files/${id}/metadata/draft`);
    expect(noDraft.status).toBe(400);
    expect(noDraft.json.message).toBe('No draft available for this file');
    await updateMetadata(api, id, { description: 'draft one' });
    const pub = await api.get(`/api/files/${id}/metadata`);
    expect(pub.status).toBe(200);
    expect(pub.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(pub.json.status).toBeUndefined();
    expect(pub.json).toMatchObject({ label: 'meta.txt', directoryLabel: 'm', description: 'published one', restricted: false });
    const draft = await api.get(`/api/files/${id}/metadata/draft`);
    expect(draft.json).toMatchObject({ label: 'meta.txt', description: 'draft one' });
    expect(draft.json.id).not.toBe(pub.json.id);
  });
});

describe('persistence of edits', () => {
  it('keeps renames, deletes and replacements across a restart', async () => {
    const ds = await newDataset('Edits restart');
    const a = await add(ds, 'a.txt', 'aaa');
    const b = await add(ds, 'b.txt', 'bbb');
    const c = await add(ds, 'c.txt', 'ccc');
    await updateMetadata(api, a, { label: 'a-renamed.txt', directoryLabel: 'moved' });
    await api.delete(`/api/files/${b}`);
    const rep = await replaceFile(api, c, 'c.txt', 'ccc v2');
    const newC = rep.json.data.files[0].dataFile.id;
    await srv.stop();
    srv = await startServe({ dataDir, args: ['--ingest-seconds', '1'], ownsDataDir: true });
    api = new Api(srv.url, srv.adminToken);
    const files = await draftFiles(api, ds);
    expect(files.map((f) => [f.dataFile.id, f.directoryLabel ?? '', f.label]).sort()).toEqual(
      [
        [a, 'moved', 'a-renamed.txt'],
        [newC, '', 'c.txt'],
      ].sort(),
    );
    expect((await download(api, newC)).text).toBe('ccc v2');
  });
});
