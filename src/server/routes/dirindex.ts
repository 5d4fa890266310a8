// GET /api/datasets/{id}/dirindex: the crawlable HTML folder listing
// (dataverse-api-notes.md §4). Default version :latest-published.
import { apiError, sendText, type Ctx, type Router } from '../http.js';
import { findDataset, resolveVersion } from '../versions.js';
import { dirindexFileName, folderListingHtml } from '../dirindex-html.js';

function dirindex(ctx: Ctx): void {
  const ds = findDataset(ctx, ctx.params.id);
  const v = resolveVersion(ctx, ds, ctx.query.get('version') ?? ':latest-published');
  const folder = ctx.query.get('folder') ?? '';
  const html = folderListingHtml(ctx.store, ds, v, folder, ctx.query.get('original') === 'true');
  if (html === undefined) throw apiError(404, `Folder ${folder} does not exist`);
  ctx.res.setHeader('Content-disposition', `filename="${dirindexFileName(folder)}"`);
  sendText(ctx, 200, html, 'text/html');
}

export function registerDirindexRoutes(router: Router): void {
  router.get('datasets/:id/dirindex', dirindex);
}
