// The Access API of `dvfs serve`: single-file downloads, headers, Range,
// permissions and grants, tabular variants, thumbnails, redirect and
// old-server modes (dataverse-api-notes.md §5.1–§5.5).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { Api } from './helpers/api.js';
import {
  addFile,
  createCollection,
  createDataset,
  createUser,
  publishCollection,
  publishDataset,
  waitForNoLocks,
} from './helpers/fixtures.js';
import {
  addedFileId,
  GENERIC_403,
  GENERIC_404,
  jaxrs,
  NOT_SUPPORTED,
  readPng,
  resetFaults,
  setFaults,
  twoColourPng,
} from './helpers/access.js';

const NOT_PERFORMED =
  'datafile access error: requested optional service (image scaling, format conversion, etc.) could not be performed on this datafile.';

const README = Buffer.from('# Read me\n\nSome text – with an en dash.\n');
const BIN = randomBytes(5000);
const SECRET = Buffer.from('the restricted bytes\n');
const CSV = Buffer.from('name,age,pet\nMarshall,40,dog\nAnn,33,cat\n');
// Notes §5.3: header line of variable names, then strings quoted and numbers bare.
const TAB_HEADER = 'name\tage\tpet\n';
const TAB_BODY = '"Marshall"\t40\t"dog"\n"Ann"\t33\t"cat"\n';
const TAB_FULL = Buffer.from(TAB_HEADER + TAB_BODY);
const PNG_BYTES = twoColourPng(200, 100);

let srv: ServeProcess;
let admin: Api;
let guest: Api;
let alice: Api;
let dsId: number;
const ids: Record<string, number> = {};

const url = (id: number | string, query = '') => `/api/access/datafile/${id}${query}`;

beforeAll(async () => {
  srv = await startServe();
  admin = new Api(srv.url, srv.adminToken);
  guest = admin.as(undefined);
  alice = admin.as((await createUser(admin, 'alice')).token);
  await createCollection(admin, 'root', 'acc');
  await publishCollection(admin, 'acc');
  dsId = (await createDataset(admin, 'acc', 'Access tests')).id;
  ids.readme = addedFileId(
    await addFile(admin, dsId, 'MY READ–ME.md', README, { contentType: 'text/markdown', directoryLabel: 'docs/sub' }),
  );
  ids.bin = addedFileId(await addFile(admin, dsId, 'data.bin', BIN, { contentType: 'application/octet-stream' }));
  ids.empty = addedFileId(await addFile(admin, dsId, 'empty.txt', '', { contentType: 'text/plain' }));
  ids.secret = addedFileId(await addFile(admin, dsId, 'secret.txt', SECRET, { contentType: 'text/plain', restrict: true }));
  ids.png = addedFileId(await addFile(admin, dsId, 'image.png', PNG_BYTES, { contentType: 'image/png' }));
  ids.csv = addedFileId(await addFile(admin, dsId, 'data.csv', CSV, { contentType: 'text/csv' }));
  await waitForNoLocks(admin, dsId);
  await publishDataset(admin, dsId);
  ids.draft = addedFileId(await addFile(admin, dsId, 'draft.txt', 'only in the draft\n', { contentType: 'text/plain' }));
  await waitForNoLocks(admin, dsId);
});
afterAll(async () => srv?.dispose());

describe('plain downloads', () => {
  it('streams the bytes with the naming headers of notes §5.2', async () => {
    const r = await guest.get(url(ids.readme));
    expect(r.status).toBe(200);
    expect(r.body.equals(README)).toBe(true);
    expect(r.headers.get('content-disposition')).toBe('attachment; filename="MY%20READ%E2%80%93ME.md"');
    expect(r.headers.get('content-type')).toBe('text/markdown; name="MY%20READ%E2%80%93ME.md";charset=UTF-8');
    expect(r.headers.get('content-length')).toBe(String(README.length));
    expect(r.headers.get('accept-ranges')).toBe('bytes');
    expect(r.headers.get('content-range')).toBeNull();
  });

  it('ignores folder segments before the id, as dirindex links use them', async () => {
    for (const path of [`docs/sub/${ids.readme}`, `anything/${ids.readme}`, `${ids.readme}/`]) {
      const r = await guest.get(url(path));
      expect(r.status).toBe(200);
      expect(r.body.equals(README)).toBe(true);
    }
  });

  it('names a non-text file without a charset', async () => {
    const r = await guest.get(url(ids.bin));
    expect(r.body.equals(BIN)).toBe(true);
    expect(r.headers.get('content-type')).toBe('application/octet-stream; name="data.bin"');
  });

  it('sends no Content-Length for a zero-byte file, and 404 to a Range on it', async () => {
    const r = await guest.get(url(ids.empty));
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(0);
    expect(r.headers.get('content-length')).toBeNull();
    const ranged = await guest.get(url(ids.empty), { headers: { Range: 'bytes=0-9' } });
    expect(ranged.status).toBe(404);
    expect(ranged.json).toEqual(jaxrs(404, GENERIC_404, `${srv.url}${url(ids.empty)}`));
  });

  it('gives the generic JAX-RS 404 for an unknown or malformed id', async () => {
    for (const id of ['999999', 'abc', ':persistentId?persistentId=doi:10.5072/FK2/NOPE']) {
      const r = await guest.get(url(id));
      expect(r.status).toBe(404);
      expect(r.json).toEqual(jaxrs(404, GENERIC_404, `${srv.url}${url(id)}`));
    }
  });

  it('answers HEAD with the headers and no body', async () => {
    const r = await guest.request(url(ids.bin), { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).toBe(String(BIN.length));
    expect(r.body.length).toBe(0);
  });
});

describe('Range (notes §5.1)', () => {
  const ranged = (range: string, id = ids.bin) => guest.get(url(id), { headers: { Range: range } });

  it('serves one range as 206 with Content-Range and Content-Length', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-9', 0, 9],
      ['bytes=100-199', 100, 199],
      ['bytes=4990-', 4990, 4999],
      ['bytes=-6', 4994, 4999],
      ['bytes=4995-99999', 4995, 4999], // end clamped
      ['bytes=0-0', 0, 0],
      ['bytes=-99999', 0, 4999], // a suffix longer than the file is the whole file
    ];
    for (const [range, s, e] of cases) {
      const r = await ranged(range);
      expect(r.status, range).toBe(206);
      expect(r.headers.get('content-range'), range).toBe(`bytes ${s}-${e}/5000`);
      expect(r.headers.get('content-length'), range).toBe(String(e - s + 1));
      expect(r.headers.get('accept-ranges')).toBe('bytes');
      expect(r.body.equals(BIN.subarray(s, e + 1)), range).toBe(true);
    }
  });

  it('refuses several ranges, inverted ranges, ranges past the end and bad syntax with 416', async () => {
    const cases: [string, string][] = [
      ['bytes=0-9,20-29', 'Error due to Range header: Only one range is allowed.'],
      ['bytes=20-10', 'Error due to Range header: Start is larger than end or size of file.'],
      ['bytes=5000-', 'Error due to Range header: Start is larger than end or size of file.'],
      ['bytes=-0', 'Error due to Range header: Start is larger than end or size of file.'],
      ['bytes=-', 'Error due to Range header: Start is larger than end or size of file.'],
      ['bytes=a-b', 'Error due to Range header: The format is bytes=<range-start>-<range-end> where start and end are optional.'],
      ['items=0-9', 'Error due to Range header: The format is bytes=<range-start>-<range-end> where start and end are optional.'],
    ];
    for (const [range, message] of cases) {
      const r = await ranged(range);
      expect(r.status, range).toBe(416);
      // A ClientErrorException: code and message, no requestUrl.
      expect(r.json, range).toEqual({ status: 'ERROR', code: 416, message });
    }
  });
});

describe('permissions (notes §5.4)', () => {
  it('serves a published, unrestricted file to guests', async () => {
    expect((await guest.get(url(ids.bin))).status).toBe(200);
  });

  it('refuses a restricted file with the generic 403 until access is granted', async () => {
    for (const who of [guest, alice]) {
      const r = await who.get(url(ids.secret));
      expect(r.status).toBe(403);
      expect(r.json).toEqual(jaxrs(403, GENERIC_403, `${srv.url}${url(ids.secret)}`));
    }
    const own = await admin.get(url(ids.secret));
    expect(own.status).toBe(200);
    expect(own.body.equals(SECRET)).toBe(true);

    const notAllowed = await alice.put(`${url(ids.secret)}/grantAccess/@alice`);
    expect(notAllowed.status).toBe(400);
    expect(notAllowed.json.message).toMatch(/^Problem trying grant access on secret\.txt : /);

    const granted = await admin.put(`${url(ids.secret)}/grantAccess/@alice`);
    expect(granted.status).toBe(200);
    expect(granted.json).toEqual({ status: 'OK', data: { message: 'Access to File secret.txt granted.' } });
    const got = await alice.get(url(ids.secret));
    expect(got.status).toBe(200);
    expect(got.body.equals(SECRET)).toBe(true);
    expect((await guest.get(url(ids.secret))).status).toBe(403);

    const revokeDenied = await alice.delete(`${url(ids.secret)}/revokeAccess/@alice`);
    expect(revokeDenied.status).toBe(401);
    expect(revokeDenied.json).toEqual({ status: 'ERROR', message: 'User @alice is not permitted to perform requested action.' });
    const revoked = await admin.delete(`${url(ids.secret)}/revokeAccess/@alice`);
    expect(revoked.status).toBe(200);
    expect(revoked.json.data.message).toBe('File Downloader access has been revoked for user @alice on file secret.txt');
    expect((await alice.get(url(ids.secret))).status).toBe(403);
    const again = await admin.delete(`${url(ids.secret)}/revokeAccess/@alice`);
    expect(again.status).toBe(400);
    expect(again.json).toEqual({ status: 'ERROR', message: 'No File Downloader role found for user @alice' });
  });

  it('reports unknown files and assignees of grantAccess with 400', async () => {
    const noUser = await admin.put(`${url(ids.secret)}/grantAccess/@nobody`);
    expect(noUser.status).toBe(400);
    expect(noUser.json).toEqual({ status: 'ERROR', message: 'Could not find assignee with identifier @nobody.' });
    const noFile = await admin.put(`${url(999999)}/grantAccess/@alice`);
    expect(noFile.status).toBe(400);
    expect(noFile.json).toEqual({ status: 'ERROR', message: 'Could not find datafile with id 999999.' });
  });

  it('lets only those who see the draft download a draft-only file', async () => {
    for (const who of [guest, alice]) {
      const r = await who.get(url(ids.draft));
      expect(r.status).toBe(403);
      expect(r.json.message).toBe(GENERIC_403);
    }
    const own = await admin.get(url(ids.draft));
    expect(own.status).toBe(200);
    expect(own.text).toBe('only in the draft\n');
  });

  it('gives 401 Bad API key for a bad token, even on a public file', async () => {
    const r = await admin.as('not-a-token').get(url(ids.bin));
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ status: 'ERROR', message: 'Bad API key' });
  });

  it('is not blocked by dataset locks', async () => {
    const lock = await guest.post(`/api/control/locks/${dsId}?type=EditInProgress&seconds=30`);
    expect(lock.status).toBe(200);
    const r = await guest.get(url(ids.bin));
    expect(r.status).toBe(200);
    expect(r.body.equals(BIN)).toBe(true);
    expect((await admin.delete(`/api/datasets/${dsId}/locks`)).status).toBe(200);
  });
});

describe('tabular files (notes §5.3)', () => {
  it('keeps the DataFile id through ingest and reports the stored size', async () => {
    const r = await admin.get(`/api/datasets/${dsId}/versions/1.0/files`);
    expect(r.status).toBe(200);
    const fm = r.json.data.find((x: { dataFile: { id: number } }) => x.dataFile.id === ids.csv);
    expect(fm.label).toBe('data.tab');
    expect(fm.dataFile.filesize).toBe(Buffer.byteLength(TAB_BODY));
  });

  it('prepends the variable-name line by default and with format=tab', async () => {
    for (const q of ['', '?format=tab']) {
      const r = await guest.get(url(ids.csv, q));
      expect(r.status).toBe(200);
      expect(r.body.equals(TAB_FULL)).toBe(true);
      expect(r.headers.get('content-length')).toBe(String(TAB_FULL.length));
      expect(r.headers.get('content-disposition')).toBe('attachment; filename="data.tab"');
      expect(r.headers.get('content-type')).toBe('text/tab-separated-values; name="data.tab";charset=UTF-8');
    }
  });

  it('serves the stored bytes with noVarHeader=true or 1, matching filesize', async () => {
    for (const q of ['?noVarHeader=true', '?noVarHeader=1']) {
      const r = await guest.get(url(ids.csv, q));
      expect(r.status).toBe(200);
      expect(r.text).toBe(TAB_BODY);
      expect(r.headers.get('content-length')).toBe(String(Buffer.byteLength(TAB_BODY)));
    }
    const no = await guest.get(url(ids.csv, '?noVarHeader=false'));
    expect(no.status).toBe(404);
    expect(no.json).toEqual({ status: 'ERROR', code: 404, message: NOT_SUPPORTED });
  });

  it('serves the uploaded original with format=original', async () => {
    const r = await guest.get(url(ids.csv, '?format=original'));
    expect(r.status).toBe(200);
    expect(r.body.equals(CSV)).toBe(true);
    expect(r.headers.get('content-disposition')).toBe('attachment; filename="data.csv"');
    expect(r.headers.get('content-type')).toBe('text/csv; name="data.csv";charset=UTF-8');
    expect(r.headers.get('content-length')).toBe(String(CSV.length));
    const part = await guest.get(url(ids.csv, '?format=original'), { headers: { Range: 'bytes=5-14' } });
    expect(part.status).toBe(206);
    expect(part.body.equals(CSV.subarray(5, 15))).toBe(true);
    expect(part.headers.get('content-range')).toBe(`bytes 5-14/${CSV.length}`);
  });

  it('counts the header in ranges, which may straddle it', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-3', 0, 3], // inside the header
      ['bytes=10-20', 10, 20], // across its end
      [`bytes=${TAB_HEADER.length}-${TAB_HEADER.length + 9}`, TAB_HEADER.length, TAB_HEADER.length + 9], // after it
      ['bytes=-5', TAB_FULL.length - 5, TAB_FULL.length - 1],
    ];
    for (const [range, s, e] of cases) {
      const r = await guest.get(url(ids.csv), { headers: { Range: range } });
      expect(r.status, range).toBe(206);
      expect(r.headers.get('content-range'), range).toBe(`bytes ${s}-${e}/${TAB_FULL.length}`);
      expect(r.body.equals(TAB_FULL.subarray(s, e + 1)), range).toBe(true);
    }
  });

  it('describes the file in DDI XML, whose variable ids drive subsets', async () => {
    const r = await guest.get(`${url(ids.csv)}/metadata/ddi`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toBe('attachment; filename="data-ddi.xml"');
    expect(r.headers.get('content-type')).toMatch(/^text\/xml/);
    expect(r.text).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?><codeBook /);
    expect(r.text).toContain('<fileName>data.tab</fileName>');
    expect(r.text).toContain('<caseQnty>2</caseQnty><varQnty>3</varQnty>');
    const vars = [...r.text.matchAll(/<var ID="v(\d+)" name="([^"]+)"/g)].map((m) => ({ id: Number(m[1]), name: m[2] }));
    expect(vars.map((v) => v.name)).toEqual(['name', 'age', 'pet']);
    expect((await guest.get(`${url(ids.csv)}/metadata`)).text).toBe(r.text);

    const pet = vars[2].id;
    const name = vars[0].id;
    const expected = 'pet\tname\n"dog"\t"Marshall"\n"cat"\t"Ann"\n';
    for (const q of [`?variables=v${pet},${name}`, `?format=subset&variables=v${pet},v${name}`]) {
      const s = await guest.get(url(ids.csv, q));
      expect(s.status).toBe(200);
      expect(s.text).toBe(expected);
      expect(s.headers.get('content-disposition')).toBe('attachment; filename="data-subset.tab"');
      // Generated content of unknown size: no Content-Length, and ranges are refused.
      expect(s.headers.get('content-length')).toBeNull();
    }
    const ranged = await guest.get(url(ids.csv, `?variables=v${pet}`), { headers: { Range: 'bytes=0-3' } });
    expect(ranged.status).toBe(404);
    expect(ranged.json.message).toBe(GENERIC_404);
    // No usable variable: the whole file.
    const none = await guest.get(url(ids.csv, '?variables=v999999'));
    expect(none.body.equals(TAB_FULL)).toBe(true);
  });

  it('refuses DDI for a non-tabular file with 400', async () => {
    const r = await guest.get(`${url(ids.bin)}/metadata/ddi`);
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ status: 'ERROR', code: 400, message: 'This type of metadata is only available for tabular files.' });
  });

  it('computes the preprocessed JSON with format=prep', async () => {
    const r = await guest.get(url(ids.csv, '?format=prep'));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json; name="data.prep"');
    expect(Object.keys(r.json.variables)).toEqual(['name', 'age', 'pet']);
    expect(r.json.variables.age.mean).toBe(36.5);
    expect(r.json.variables.age.max).toBe(40);
    expect(r.json.variables.pet.numchar).toBe('character');
  });

  it('fails format=RData as an installation without Rserve does', async () => {
    const r = await guest.get(url(ids.csv, '?format=RData'));
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ status: 'ERROR', code: 404, message: NOT_PERFORMED });
  });

  it('answers unsupported services with the datafile 404 message', async () => {
    for (const [id, q] of [
      [ids.csv, '?format=xlsx'],
      [ids.bin, '?format=tab'],
      [ids.bin, '?noVarHeader=true'],
      [ids.bin, '?imageThumb=true'],
      [ids.bin, '?variables=v1'],
    ] as const) {
      const r = await guest.get(url(id, q));
      expect(r.status, q).toBe(404);
      expect(r.json, q).toEqual({ status: 'ERROR', code: 404, message: NOT_SUPPORTED });
    }
  });

  it('ignores format=original on a non-tabular file', async () => {
    const r = await guest.get(url(ids.bin, '?format=original'));
    expect(r.status).toBe(200);
    expect(r.body.equals(BIN)).toBe(true);
  });
});

describe('thumbnails', () => {
  it('scales a PNG to 64 px wide with imageThumb=true, N px with imageThumb=N', async () => {
    for (const [q, w, h] of [
      ['?imageThumb=true', 64, 32],
      ['?imageThumb=50', 50, 25],
    ] as const) {
      const r = await guest.get(url(ids.png, q));
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('image/png; name="image.png"');
      const img = readPng(r.body);
      expect([img.width, img.height]).toEqual([w, h]);
      expect([...img.data.subarray(0, 4)]).toEqual([255, 0, 0, 255]); // left: red
      const last = (w * h - 1) * 4;
      expect([...img.data.subarray(last, last + 4)]).toEqual([0, 0, 255, 255]); // right: blue
      expect(r.headers.get('content-length')).toBe(String(r.body.length));
    }
  });

  it('serves ranges of a thumbnail', async () => {
    const whole = await guest.get(url(ids.png, '?imageThumb=true'));
    const r = await guest.get(url(ids.png, '?imageThumb=true'), { headers: { Range: 'bytes=0-39' } });
    expect(whole.body.length).toBeGreaterThan(40);
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 0-39/${whole.body.length}`);
    expect(r.body.equals(whole.body.subarray(0, 40))).toBe(true);
  });
});

describe('redirect mode (notes §5.5)', () => {
  afterAll(async () => resetFaults(guest));

  it('answers 303 to a signed blob URL after the permission checks, Range or not', async () => {
    await setFaults(guest, { redirect: true });
    for (const headers of [{}, { Range: 'bytes=0-9' }]) {
      const r = await guest.get(url(ids.bin), { headers });
      expect(r.status).toBe(303);
      const location = r.headers.get('location')!;
      expect(location.startsWith(srv.url)).toBe(false);
      const blob = await fetch(location);
      expect(Buffer.from(await blob.arrayBuffer()).equals(BIN)).toBe(true);
    }
    const denied = await guest.get(url(ids.secret));
    expect(denied.status).toBe(403);
    const granted = await admin.get(url(ids.secret));
    expect(granted.status).toBe(303);
  });

  it('redirects a thumbnail once it has been made, and noVarHeader to the stored object', async () => {
    await setFaults(guest, { redirect: true });
    const first = await guest.get(url(ids.png, '?imageThumb=true'));
    expect(first.status).toBe(200);
    expect(readPng(first.body).width).toBe(64);
    const second = await guest.get(url(ids.png, '?imageThumb=true'));
    expect(second.status).toBe(303);
    const cached = Buffer.from(await (await fetch(second.headers.get('location')!)).arrayBuffer());
    expect(cached.equals(first.body)).toBe(true);
    const stored = await guest.get(url(ids.csv, '?noVarHeader=true'));
    expect(stored.status).toBe(303);
    expect(await (await fetch(stored.headers.get('location')!)).text()).toBe(TAB_BODY);
  });

  it('redirects originals, but streams the generated header and subsets', async () => {
    await setFaults(guest, { redirect: true });
    const orig = await guest.get(url(ids.csv, '?format=original'));
    expect(orig.status).toBe(303);
    const bytes = Buffer.from(await (await fetch(orig.headers.get('location')!)).arrayBuffer());
    expect(bytes.equals(CSV)).toBe(true);
    const tab = await guest.get(url(ids.csv));
    expect(tab.status).toBe(200);
    expect(tab.body.equals(TAB_FULL)).toBe(true);
  });
});

describe('names', () => {
  it('takes the name from the latest FileMetadata, the draft one if there is one', async () => {
    const form = new FormData();
    form.append('jsonData', JSON.stringify({ label: 'renamed.bin' }));
    const renamed = await admin.post(`/api/files/${ids.bin}/metadata`, form);
    expect(renamed.status, renamed.text).toBe(200);
    const r = await guest.get(url(ids.bin));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toBe('attachment; filename="renamed.bin"');
    expect(r.body.equals(BIN)).toBe(true);
  });
});

describe('old-server mode', () => {
  afterAll(async () => resetFaults(guest));

  it('answers a Range request with 200 and the whole body', async () => {
    await setFaults(guest, { noRange: true });
    const r = await guest.get(url(ids.bin), { headers: { Range: 'bytes=0-9' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-range')).toBeNull();
    expect(r.body.equals(BIN)).toBe(true);
  });
});
