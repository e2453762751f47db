export const routes = ['projects', 'timeline', 'masks', 'train', 'convert', 'settings'] as const;
export type Route = (typeof routes)[number];

function isRoute(name: string): name is Route {
  return (routes as readonly string[]).includes(name);
}

/** "#/masks", "#masks" and "#/masks/12" all mean the masks page; anything else is the projects page. */
export function parseHash(hash: string): Route {
  const name = hash.replace(/^#\/?/, '').split(/[/?]/)[0] ?? '';
  return isRoute(name) ? name : 'projects';
}

/** What follows the route in the hash: "#/masks/a/100/69" -> ["a", "100", "69"]. */
export function parseParams(hash: string): string[] {
  const [, ...rest] = hash.replace(/^#\/?/, '').split('?')[0]?.split('/') ?? [];
  return rest.filter((part) => part !== '').map((part) => decodeURIComponent(part));
}

export function href(route: Route, params: readonly (string | number)[] = []): string {
  return `#/${[route, ...params.map((part) => encodeURIComponent(String(part)))].join('/')}`;
}

class Router {
  current = $state<Route>(parseHash(window.location.hash));
  params = $state.raw<string[]>(parseParams(window.location.hash));
}

export const router = new Router();

window.addEventListener('hashchange', () => {
  router.current = parseHash(window.location.hash);
  router.params = parseParams(window.location.hash);
});

export function navigate(route: Route, params: readonly (string | number)[] = []): void {
  window.location.hash = href(route, params);
}
