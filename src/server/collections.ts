// Finding collections and printing owner chains (isPartOf) the way the real
// server does (dataverse-api-notes.md §0, §1.4, §2.1).
import { apiError, type Ctx } from './http.js';
import { hasPermission, notPermitted } from './auth.js';
import type { CollectionRec } from './model.js';
import type { Store } from './store.js';

/** {id} may be a database id, an alias (case-insensitive) or ':root'. */
export function findCollection(ctx: Ctx, idOrAlias: string): CollectionRec {
  const c = /^\d+$/.test(idOrAlias) ? ctx.store.collection(Number(idOrAlias)) : ctx.store.collectionByAlias(idOrAlias);
  if (!c) throw apiError(404, `Can't find dataverse with identifier='${idOrAlias}'`);
  return c;
}

export function canSeeCollection(ctx: Ctx, c: CollectionRec): boolean {
  return c.released || hasPermission(ctx.store, ctx.user, 'ViewUnpublishedDataverse', c.id);
}

/** A collection the caller may see; an unpublished one without permission is 401 (GetDataverseCommand). */
export function findVisibleCollection(ctx: Ctx, idOrAlias: string): CollectionRec {
  const c = findCollection(ctx, idOrAlias);
  if (!canSeeCollection(ctx, c)) throw notPermitted(ctx.user);
  return c;
}

/**
 * JsonPrinter.getOwnersFromDvObject: the owners of an object, innermost
 * first, each nesting its own owner under "isPartOf". undefined for the root.
 */
export function ownersJson(store: Store, ownerId: number | undefined): Record<string, unknown> | undefined {
  const chain = store.collectionChain(ownerId).reverse(); // root first
  let saved: Record<string, unknown> | undefined;
  for (const c of chain) {
    const o: Record<string, unknown> = {};
    if (saved) o.isPartOf = saved;
    o.type = 'DATAVERSE';
    o.identifier = c.alias;
    o.isReleased = c.released;
    o.displayName = c.name;
    saved = o;
  }
  return saved;
}
