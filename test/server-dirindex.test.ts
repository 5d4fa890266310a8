// GET /api/datasets/{id}/dirindex of `dvfs serve`: the exact HTML of
// dataverse-api-notes.md §4, its headers, links and quirks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { Api } from './helpers/api.js';
import {
  addFile,
  createCollection,
  createDataset,
  publishCollection,
  publishDataset,
  waitForNoLocks,
} from './helpers/fixtures.js';

let srv: ServeProcess;
let api: Api;
let guest: Api;
beforeAll(async () => {
  srv = await startServe();
  api = new Api(srv.url, srv.adminToken);
  guest = api.as(undefined);
  await createCollection(api, 'root', 'idx');
  await publishCollection(api, 'idx');
});
afterAll(async () => srv?.dispose());

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** SimpleDateFormat("d-MMMM-yyyy HH:mm") in the local time zone (server and test share the machine). */
function javaListDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getDate()}-${MONTHS[d.getMonth()]}-${d.getFullYear()} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

// The template of notes §4, one piece per line of the example.
function page(title: string, heading: string, rows: string[]): string {
  return (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n' +
    `<html><head><title>${title}</title></head>\n` +
    `<body><h1>${heading}</h1>\n` +
    '<table><tr><th>Name</th><th>Last Modified</th><th>Size</th><th>Description</th></tr><tr><th colspan="4"><hr></th></tr>' +
    rows.map((r) => `${r}\n`).join('') +
    '</table></body>\n' +
    '</html>\n'
  );
}
const fileRow = (href: string, name: string, date: string, size: string) =>
  `<tr><td><a href="${href}">${name}</a></td><td align="right">${date}</td><td align="right">${size}</td><td align="right">&nbsp;</td></tr>`;
const folderRow = (href: string, name: string) =>
  `<tr><td><a href="${href}">${name}/</a></td><td align="right"> - </td><td align="right"> - </td><td align="right">&nbsp;</td></tr>`;

interface Uploaded {
  id: number;
  size: number;
}

describe('dirindex', () => {
  let dsId: number;
  let pid: string;
  let date: string;
  const files: Record<string, Uploaded> = {};
  // path → [content size]; names with '&', "'" and spaces appear raw.
  const layout: [string, string | undefined, number][] = [
    ['readme.txt', undefined, 1500],
    ['Zeta.txt', undefined, 10],
    ["a & b's.txt", undefined, 5],
    ['a.txt', 'data', 3],
    ['b.txt', 'data2', 4],
    ['c.txt', 'my folder', 6],
    ['zz.txt', 'sub', 2048],
    ['aa.txt', 'sub/deeper', 1],
  ];

  beforeAll(async () => {
    const ds = await createDataset(api, 'idx', 'Crawlable');
    dsId = ds.id;
    pid = ds.pid;
    const before = new Date();
    for (const [name, dir, size] of layout) {
      const r = await addFile(api, dsId, name, 'q'.repeat(size), {
        ...(dir ? { directoryLabel: dir } : {}),
        contentType: 'text/plain',
      });
      expect(r.status).toBe(200);
      files[dir ? `${dir}/${name}` : name] = { id: r.json.data.files[0].dataFile.id, size };
      await waitForNoLocks(api, dsId);
    }
    const after = new Date();
    // All uploads happened within one or two minutes; the listing shows one of them.
    date = javaListDate(before);
    if (javaListDate(after) !== date) date = '';
  });

  /** The date cells must be the upload minute; returns the HTML with them normalised to `date`. */
  function normaliseDates(html: string): string {
    return html.replace(/<td align="right">(\d{1,2}-[A-Za-z]+-\d{4} \d\d:\d\d)<\/td>/g, (m, d: string) => {
      if (date) expect(d).toBe(date);
      else expect(d).toMatch(/^\d{1,2}-(January|February|March|April|May|June|July|August|September|October|November|December)-\d{4} \d\d:\d\d$/);
      return `<td align="right">DATE</td>`;
    });
  }

  it('defaults to :latest-published: 404 before the first publish, even for the owner', async () => {
    const r = await api.get(`/api/datasets/${dsId}/dirindex`);
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ status: 'ERROR', message: `Dataset version :latest-published of dataset ${dsId} not found` });
  });

  it('lists the draft top level byte for byte', async () => {
    const r = await api.get(`/api/datasets/${dsId}/dirindex?version=:draft`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(r.headers.get('content-disposition')).toBe('filename=".index.html"');
    const dir = (folder: string) => `/api/datasets/${dsId}/dirindex/?version=:draft&folder=${folder}`;
    const expected = page('Index of folder /', `Index of folder / in dataset ${pid} (Draft Version)`, [
      fileRow(`/api/access/datafile/${files["a & b's.txt"].id}`, "a & b's.txt", 'DATE', '5 B'),
      folderRow(dir('data'), 'data'),
      folderRow(dir('data2'), 'data2'),
      folderRow(dir('my folder'), 'my folder'),
      fileRow(`/api/access/datafile/${files['readme.txt'].id}`, 'readme.txt', 'DATE', '1.5 KB'),
      folderRow(dir('sub'), 'sub'),
      fileRow(`/api/access/datafile/${files['Zeta.txt'].id}`, 'Zeta.txt', 'DATE', '10 B'),
    ]);
    expect(normaliseDates(r.text)).toBe(expected);
  });

  it('lists a published sub-folder with folder paths in file links and the version in folder links', async () => {
    await publishDataset(api, dsId);
    const r = await guest.get(`/api/datasets/${dsId}/dirindex?folder=sub`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toBe('filename=".index-sub.html"');
    const expected = page('Index of folder /sub', `Index of folder /sub in dataset ${pid} (v. 1.0)`, [
      folderRow(`/api/datasets/${dsId}/dirindex/?version=1.0&folder=sub/deeper`, 'deeper'),
      fileRow(`/api/access/datafile/sub/${files['sub/zz.txt'].id}`, 'zz.txt', 'DATE', '2.0 KB'),
    ]);
    expect(normaliseDates(r.text)).toBe(expected);

    const deeper = await guest.get(`/api/datasets/${dsId}/dirindex/?version=1.0&folder=sub/deeper`);
    expect(deeper.status).toBe(200);
    expect(deeper.headers.get('content-disposition')).toBe('filename=".index-sub_deeper.html"');
    expect(normaliseDates(deeper.text)).toBe(
      page('Index of folder /sub/deeper', `Index of folder /sub/deeper in dataset ${pid} (v. 1.0)`, [
        fileRow(`/api/access/datafile/sub/deeper/${files['sub/deeper/aa.txt'].id}`, 'aa.txt', 'DATE', '1 B'),
      ]),
    );
  });

  it('keeps original=true in folder links', async () => {
    const r = await guest.get(`/api/datasets/${dsId}/dirindex?folder=sub&original=true`);
    expect(r.text).toContain(
      `<a href="/api/datasets/${dsId}/dirindex/?version=1.0&folder=sub/deeper&original=true">deeper/</a>`,
    );
    // Not a tabular file: no ?format=original on its link.
    expect(r.text).toContain(`<a href="/api/access/datafile/sub/${files['sub/zz.txt'].id}">zz.txt</a>`);
  });

  it('matches folders with startsWith: folder=data also shows data2 as an odd "/" entry', async () => {
    const r = await guest.get(`/api/datasets/${dsId}/dirindex?folder=data`);
    expect(normaliseDates(r.text)).toBe(
      page('Index of folder /data', `Index of folder /data in dataset ${pid} (v. 1.0)`, [
        fileRow(`/api/access/datafile/data/${files['data/a.txt'].id}`, 'a.txt', 'DATE', '3 B'),
        folderRow(`/api/datasets/${dsId}/dirindex/?version=1.0&folder=data/`, ''),
      ]),
    );
  });

  it('answers 404 JSON for a folder that does not exist', async () => {
    const r = await guest.get(`/api/datasets/${dsId}/dirindex?folder=nope`);
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.json).toEqual({ status: 'ERROR', message: 'Folder nope does not exist' });
  });

  it('answers 404 for an empty published dataset at the top level, and version errors as JSON', async () => {
    const empty = await createDataset(api, 'idx', 'Empty');
    await publishDataset(api, empty.id);
    const r = await guest.get(`/api/datasets/${empty.id}/dirindex`);
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ status: 'ERROR', message: 'Folder  does not exist' });
    const bad = await guest.get(`/api/datasets/${empty.id}/dirindex?version=foo`);
    expect(bad.status).toBe(400);
    expect(bad.json.message).toBe("Illegal version identifier 'foo'");
    const draft = await guest.get(`/api/datasets/${empty.id}/dirindex?version=:draft`);
    expect(draft.status).toBe(401);
  });

  it('adds ?format=original to tabular file links only with original=true', async () => {
    const ds = await createDataset(api, 'idx', 'Tabular');
    const r = await addFile(api, ds.id, 'table.csv', 'a,b\n1,2\n3,4\n', { contentType: 'text/csv' });
    expect(r.status).toBe(200);
    await waitForNoLocks(api, ds.id);
    const fileId = r.json.data.files[0].dataFile.id;
    const plain = await api.get(`/api/datasets/${ds.id}/dirindex?version=:draft`);
    expect(plain.text).toContain(`<a href="/api/access/datafile/${fileId}">table.tab</a>`);
    const orig = await api.get(`/api/datasets/${ds.id}/dirindex?version=:draft&original=true`);
    expect(orig.text).toContain(`<a href="/api/access/datafile/${fileId}?format=original">table.tab</a>`);
  });
});
