// Which URLs may be a CA's: https, or plain http to a CA on this host's loopback (the test CAs,
// such as Boulder's http://127.0.0.1:4001/directory), where nothing crosses a network. Apart from
// src/acme/http.ts so that the parent and acme-client-server check a URL without loading the transport.

/** 127.0.0.0/8, ::1 or localhost: plain HTTP to it never leaves this host. */
export function onLoopback(url: URL): boolean {
  return /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost)$/.test(url.hostname);
}

/** Why a URL cannot be the CA's, or null: https, or http to the loopback (a test CA such as Boulder's). */
export function caUrlProblem(url: URL): string | null {
  if (url.protocol === 'https:' || (url.protocol === 'http:' && onLoopback(url))) return null;
  if (url.protocol === 'http:') return 'plain http is for a CA on this host\'s loopback only (127.0.0.0/8, ::1, localhost); use https';
  return 'not an https URL';
}

/**
 * A URL the CA names (in a resource, a Location, a redirect) is https, or plain http on the
 * loopback when what named it was reached so too: an https CA never sends netproc to plain http.
 */
export function caNamedUrlAllowed(url: URL, namedBy: string): boolean {
  if (url.protocol === 'https:') return true;
  let by: URL;
  try {
    by = new URL(namedBy);
  } catch {
    return false;
  }
  return url.protocol === 'http:' && onLoopback(url) && by.protocol === 'http:' && onLoopback(by);
}
