// Role assignments on collections and datasets:
// POST/GET /api/{dataverses|datasets}/{id}/assignments, DELETE .../assignments/{assignmentId}.
// Messages follow Dataverses.createAssignment / Datasets.createAssignment and AssignRoleCommand.
import { apiError, ok, okMessage, readJson, type Ctx, type Router } from '../http.js';
import { hasPermission, notPermitted, ROLES, type Permission } from '../auth.js';
import { findCollection } from '../collections.js';
import { findDataset, draftOf, latestReleased } from '../versions.js';
import { versionTitle } from '../json.js';
import type { RoleAssignmentRec } from '../model.js';
import { assignRole, assignmentsOn, findAssignment, isRoleAlias, removeAssignment, roleAssignmentJson } from '../roles.js';

interface Target {
  id: number;
  /** What DvObject.NamePrinter prints: a collection's name, a dataset's title. */
  displayName: string;
  /** Where "Can't find role" says the role was looked for. */
  ownerName: string;
  managePermission: Permission;
  kind: 'dataverse' | 'dataset';
}

function target(ctx: Ctx, kind: 'dataverse' | 'dataset', idParam: string): Target {
  if (kind === 'dataverse') {
    const c = findCollection(ctx, idParam);
    return { id: c.id, displayName: c.name, ownerName: c.name, managePermission: 'ManageDataversePermissions', kind };
  }
  const ds = findDataset(ctx, idParam);
  const v = draftOf(ds) ?? latestReleased(ds, true) ?? ds.versions[ds.versions.length - 1];
  const owner = ctx.store.collection(ds.ownerId);
  return {
    id: ds.id,
    displayName: versionTitle(v),
    ownerName: owner?.name ?? '',
    managePermission: 'ManageDatasetPermissions',
    kind,
  };
}

async function createAssignment(ctx: Ctx, kind: 'dataverse' | 'dataset'): Promise<void> {
  const t = target(ctx, kind, ctx.params.id);
  const body = await readJson<{ assignee?: unknown; role?: unknown }>(ctx);
  const assignee = typeof body.assignee === 'string' ? body.assignee : '';
  const user = assignee.startsWith('@') ? ctx.store.userByName(assignee.slice(1)) : undefined;
  if (!user) {
    throw apiError(400, kind === 'dataset' ? 'Cannot find the assignee.' : 'Assignee not found');
  }
  const role = typeof body.role === 'string' ? body.role : '';
  if (!isRoleAlias(role)) {
    throw apiError(400, `Can't find role named '${role}' in dataverse ${t.ownerName}`);
  }
  if (!hasPermission(ctx.store, ctx.user, t.managePermission, t.id)) throw notPermitted(ctx.user);
  if (user.deactivated) throw apiError(403, `User ${assignee} is deactivated and cannot be given a role.`);
  if (findAssignment(ctx.store, assignee, role, t.id)) {
    throw apiError(403, 'User already has this role for this dataset');
  }
  const ra = assignRole(ctx.store, assignee, role, t.id);
  await ctx.store.commit();
  ok(ctx, roleAssignmentJson(ra));
}

function listAssignments(ctx: Ctx, kind: 'dataverse' | 'dataset'): void {
  const t = target(ctx, kind, ctx.params.id);
  if (!hasPermission(ctx.store, ctx.user, t.managePermission, t.id)) throw notPermitted(ctx.user);
  ok(ctx, assignmentsOn(ctx.store, t.id).map(roleAssignmentJson));
}

async function deleteAssignment(ctx: Ctx, kind: 'dataverse' | 'dataset'): Promise<void> {
  const raId = Number(ctx.params.assignmentId);
  const ra: RoleAssignmentRec | undefined = /^\d+$/.test(ctx.params.assignmentId)
    ? ctx.store.state.roleAssignments.find((r) => r.id === raId)
    : undefined;
  if (!ra) throw apiError(404, `Role assignment ${ctx.params.assignmentId} not found`);
  const t = target(ctx, kind, ctx.params.id);
  // RevokeRoleCommand checks the permission on the assignment's definition point.
  const perm: Permission = ctx.store.dataset(ra.definitionPointId) ? 'ManageDatasetPermissions' : 'ManageDataversePermissions';
  if (!hasPermission(ctx.store, ctx.user, perm, ra.definitionPointId)) throw notPermitted(ctx.user);
  const where = ra.definitionPointId === t.id ? t.displayName : definitionPointName(ctx, ra.definitionPointId);
  removeAssignment(ctx.store, ra.id);
  await ctx.store.commit();
  okMessage(ctx, `Role ${ROLES[ra.role].name} revoked for assignee ${ra.assignee} in ${where}`);
}

function definitionPointName(ctx: Ctx, id: number): string {
  const c = ctx.store.collection(id);
  if (c) return c.name;
  const ds = ctx.store.dataset(id);
  if (!ds) return String(id);
  return versionTitle(ds.versions[ds.versions.length - 1]);
}

export function registerAssignmentRoutes(router: Router): void {
  for (const kind of ['dataverse', 'dataset'] as const) {
    const base = kind === 'dataverse' ? 'dataverses' : 'datasets';
    router.post(`${base}/:id/assignments`, (ctx) => createAssignment(ctx, kind));
    router.get(`${base}/:id/assignments`, (ctx) => listAssignments(ctx, kind));
    router.delete(`${base}/:id/assignments/:assignmentId`, (ctx) => deleteAssignment(ctx, kind));
  }
}
