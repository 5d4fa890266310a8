import type { Router } from '../http.js';

export function registerCollectionRoutes(router: Router): void {
  void router; // TODO: implemented by the collections work package
}
