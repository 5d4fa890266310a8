import type { Router } from '../http.js';

export function registerSearchRoutes(router: Router): void {
  void router; // TODO: implemented by the search work package
}
