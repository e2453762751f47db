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

export function href(route: Route): string {
  return `#/${route}`;
}

class Router {
  current = $state<Route>(parseHash(window.location.hash));
}

export const router = new Router();

window.addEventListener('hashchange', () => {
  router.current = parseHash(window.location.hash);
});

export function navigate(route: Route): void {
  window.location.hash = href(route);
}
