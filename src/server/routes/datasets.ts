import type { Router } from '../http.js';

export function registerDatasetRoutes(router: Router): void {
  void router; // TODO: implemented by the datasets work package
}
