// Who may talk to the dashboard: a request must name one of its own addresses in Host (a DNS
// rebinding attack names the attacker's), come from its own Origin when it says one, and carry
// the access token (the cookie set on the first visit with ?token=); an action must also carry the
// CSRF token in a header, which only the dashboard's own page can read.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { hostname, networkInterfaces } from "node:os";

const LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"];

export interface Guard {
  token: string;
  csrf: string;
  cookieName: string;
  /** Whether a Host header (or an Origin's host) names the dashboard. */
  accepts(host: string): boolean;
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** An address that listens on every interface of the machine (0.0.0.0 on IPv4; :: on both). */
export function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::";
}

/** The name a URL uses for `host`: an IPv6 address goes in brackets. */
export function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** The names the machine itself goes by: its host name and its interfaces' addresses, read when asked (addresses come and go). */
function ownNames(): string[] {
  const addresses = Object.values(networkInterfaces()).flatMap((entries) => (entries ?? []).map((entry) => urlHost(entry.address)));
  return [hostname().toLowerCase(), ...addresses];
}

/**
 * The host the printed URL names. On a wildcard, 0.0.0.0 would name no machine anywhere else (and
 * browsers refuse it): an address of the network the dashboard is opened to, else the loopback.
 */
export function urlHostFor(host: string): string {
  if (!isWildcard(host)) return urlHost(host);
  const external = Object.values(networkInterfaces()).flatMap((entries) => (entries ?? []).filter((entry) => !entry.internal));
  const address = external.find((entry) => entry.family === "IPv4") ?? (host === "::" ? external[0] : undefined);
  return address === undefined ? "127.0.0.1" : urlHost(address.address);
}

export function createGuard(host: string, port: number): Guard {
  // On a wildcard the dashboard answers through any of the machine's own names: a DNS rebinding
  // attack still names the attacker's, which is none of them.
  const names = () => new Set([...LOOPBACK_NAMES, urlHost(host), ...(isWildcard(host) ? ownNames() : [])].map((name) => `${name}:${port}`));
  let hosts = names();
  return {
    token: randomBytes(24).toString("base64url"),
    csrf: randomBytes(24).toString("base64url"),
    // Cookies do not tell ports apart: two dashboards on one machine keep their own.
    cookieName: `bgtask_token_${port}`,
    accepts(given) {
      const name = given.toLowerCase();
      if (hosts.has(name)) return true;
      if (!isWildcard(host)) return false;
      // An address the machine was given since the dashboard started (DHCP, a VPN).
      hosts = names();
      return hosts.has(name);
    },
  };
}

/** Whether `given` is the secret `expected`, in a time that says nothing of where they differ. */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookie(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}

export type Refusal = { status: number; code: string; message: string } | null;

/** Why `request` is refused, or null; `queryToken` is the ?token= of its URL. */
export function refusal(guard: Guard, request: IncomingMessage, queryToken: string | null): Refusal {
  const host = request.headers.host;
  if (host === undefined || !guard.accepts(host))
    return { status: 403, code: "EHOST", message: "this dashboard answers only to its own address; open the URL `bgtask ui` printed" };
  const origin = request.headers.origin;
  if (origin !== undefined && !(origin.startsWith("http://") && guard.accepts(origin.slice("http://".length))))
    return { status: 403, code: "EORIGIN", message: "requests from other sites are refused" };
  if (!sameSecret(cookie(request, guard.cookieName), guard.token) && !sameSecret(queryToken ?? undefined, guard.token))
    return { status: 401, code: "ETOKEN", message: "the access token is missing or wrong; open the URL with ?token= that `bgtask ui` printed" };
  if (request.method !== "GET" && request.method !== "HEAD") {
    const csrf = request.headers["x-bgtask-csrf"];
    if (!sameSecret(typeof csrf === "string" ? csrf : undefined, guard.csrf))
      return { status: 403, code: "ECSRF", message: "an action needs the page's CSRF token in X-Bgtask-Csrf" };
  }
  return null;
}

/** The cookie that keeps the token after the first visit: not readable by scripts, never sent by other sites. */
export function tokenCookie(guard: Guard): string {
  return `${guard.cookieName}=${guard.token}; HttpOnly; SameSite=Strict; Path=/`;
}
