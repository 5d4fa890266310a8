import type { Router } from '../http.js';

export function registerDirindexRoutes(router: Router): void {
  void router; // TODO: implemented by the dirindex work package
}
