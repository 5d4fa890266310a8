// File-level access grants (Access.grantFileAccess / revokeFileAccess): the
// File Downloader role on one file, kept as DataFileRec.accessGrants.
// Messages are the real Bundle.properties values.
import { apiError, okMessage, type Ctx } from '../http.js';
import { hasPermission, identifier, notPermitted } from '../auth.js';
import type { DataFileRec } from '../model.js';
import { datasetOfFile } from '../versions.js';
import { latestFileMetadata } from './permissions.js';

/** findDataFileOrDie failing here is a 400 with its own message. */
function findFileOr400(ctx: Ctx): DataFileRec {
  const id = ctx.params.id;
  const f = /^\d+$/.test(id) ? ctx.store.file(Number(id)) : undefined;
  if (!f) throw apiError(400, `Could not find datafile with id ${id}.`);
  return f;
}

/** RoleAssigneeServiceBean.getRoleAssignee: only "@username" users exist on this server. */
function findAssignee(ctx: Ctx): string {
  const who = ctx.params.identifier;
  const user = who.startsWith('@') ? ctx.store.userByName(who.slice(1)) : undefined;
  if (!user) throw apiError(400, `Could not find assignee with identifier ${who}.`);
  return `@${user.username}`;
}

function displayName(ctx: Ctx, f: DataFileRec): string {
  return latestFileMetadata(datasetOfFile(ctx.store, f), f.id)?.label ?? String(f.id);
}

/** PUT /api/access/datafile/{id}/grantAccess/{@user}: AssignRoleCommand needs ManageFilePermissions. */
export async function grantAccess(ctx: Ctx): Promise<void> {
  const f = findFileOr400(ctx);
  const assignee = findAssignee(ctx);
  const name = displayName(ctx, f);
  if (!hasPermission(ctx.store, ctx.user, 'ManageFilePermissions', f.id)) {
    // The CommandException text is the engine's PermissionException message (approximated).
    const reason =
      `Can't execute command [AssignRoleCommand], because request [DataverseRequest user:[${ctx.user ? 'AuthenticatedUser' : 'GuestUser'} ` +
      `identifier:${identifier(ctx.user)}]] is missing permissions [ManageFilePermissions] on Object ${name}`;
    throw apiError(400, `Problem trying grant access on ${name} : ${reason}`);
  }
  if (!f.accessGrants.includes(assignee)) f.accessGrants.push(assignee);
  await ctx.store.commit();
  okMessage(ctx, `Access to File ${name} granted.`);
}

/** DELETE /api/access/datafile/{id}/revokeAccess/{@user}: RevokeRoleCommand through execCommand. */
export async function revokeAccess(ctx: Ctx): Promise<void> {
  const f = findFileOr400(ctx);
  const assignee = findAssignee(ctx);
  if (!f.accessGrants.includes(assignee)) throw apiError(400, `No File Downloader role found for user ${ctx.params.identifier}`);
  if (!hasPermission(ctx.store, ctx.user, 'ManageFilePermissions', f.id)) throw notPermitted(ctx.user);
  f.accessGrants = f.accessGrants.filter((a) => a !== assignee);
  await ctx.store.commit();
  okMessage(ctx, `File Downloader access has been revoked for user ${assignee} on file ${displayName(ctx, f)}`);
}
