import { timingSafeEqual } from 'node:crypto';
import net from 'node:net';

/** Names that reach this machine whatever DNS says: a page served under one of them cannot be a rebinding attack. */
export const LOOPBACK_HOSTS = new Set(['localhost', '::1']);

/** A host name or address (brackets and a trailing dot allowed) that means this machine: localhost, 127/8, ::1. */
export function isLoopback(host: string): boolean {
  const name = host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  if (LOOPBACK_HOSTS.has(name)) return true;
  // Only a real dotted quad: "127.attacker.example" is a name an attacker's DNS answers for.
  const v4 = /^::ffff:(.+)$/.exec(name)?.[1] ?? name;
  return net.isIPv4(v4) && v4.startsWith('127.');
}

/** An address every interface answers on ("0.0.0.0", "::"): the machine's own IP literals are then legitimate hosts. */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

/**
 * The host name of a Host header ("name:port", "[v6]:port", "name"), lower-cased without brackets or a trailing
 * dot; null when it is not one.
 */
export function hostHeaderName(header: string): string | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(header.trim());
  if (!match) return null;
  const name = (match[1] ?? match[2] ?? '').toLowerCase().replace(/\.$/, '');
  if (name === '' || (match[1] !== undefined && !net.isIPv6(name))) return null;
  return name;
}

/**
 * DNS rebinding: a page on attacker.example whose name later resolves to 127.0.0.1 talks to this server as its own
 * origin, and its requests carry "Host: attacker.example". Only names that cannot be rebound are accepted: loopback
 * names and addresses, the names the user allowed (--allow-host, the address bound), and IP literals when bound to
 * every interface (an IP literal is not a DNS name, so it cannot be rebound). Requests without Host (HTTP/1.0) do not
 * come from browsers.
 */
export function hostAllowed(header: string | undefined, allowed: ReadonlySet<string>, anyIpLiteral: boolean): boolean {
  if (header === undefined) return true;
  const name = hostHeaderName(header);
  if (name === null) return false;
  return isLoopback(name) || allowed.has(name) || (anyIpLiteral && net.isIP(name) !== 0);
}

export function tokensMatch(expected: string, given: string | null): boolean {
  if (given === null) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A WebSocket upgrade must come from a page this server served (same origin), or from a non-browser
 * client (no Origin header). Blocks other sites from driving a local engine through the user's browser.
 */
export function originAllowed(origin: string | undefined, hostHeader: string | undefined): boolean {
  if (origin === undefined) return true;
  if (!hostHeader) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === hostHeader;
  } catch {
    return false;
  }
}

/**
 * Counts failed token checks per client address. Past `maxFailures` in the window, that address is throttled: its
 * wrong tokens are answered slowly, with 429. A request with the right token always passes: every local process and
 * web page shares 127.0.0.1, so blocking the address would let any of them lock the user out.
 */
export class AuthLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures = 5,
    private readonly windowMs = 60_000,
    /** Addresses remembered at most (the oldest forgotten first), so a spray of addresses cannot grow memory. */
    private readonly maxAddresses = 1024,
  ) {}

  throttled(address: string, now = Date.now()): boolean {
    const recent = (this.failures.get(address) ?? []).filter((t) => t > now - this.windowMs);
    if (recent.length === 0) this.failures.delete(address);
    else this.failures.set(address, recent);
    return recent.length >= this.maxFailures;
  }

  fail(address: string, now = Date.now()): void {
    const recent = (this.failures.get(address) ?? []).filter((t) => t > now - this.windowMs);
    this.failures.delete(address);
    // Only the newest maxFailures matter to throttled().
    this.failures.set(address, [...recent, now].slice(-this.maxFailures));
    if (this.failures.size > this.maxAddresses) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }
}

export const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
};

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** What /media serves: the images and videos the studio shows. Not the index, not project.json, not stray files. */
export const MEDIA_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.mp4', '.webm']);
