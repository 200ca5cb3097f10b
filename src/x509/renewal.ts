// When a certificate on disk is due for renewal, in the order the man page gives: -F and a change
// of names are certproc's to see; then the CA's renewal window (ARI, RFC 9773) when it offers one;
// else the lifetime rule. And the small state that lets daily runs keep the CA's answer between
// them (written by fileproc, read by certproc).

import { createHash } from 'node:crypto';
import * as c from '../check.js';
import { utcTime } from '../log.js';

const DAY = 86_400_000;
/**
 * How long an order left processing is looked at again by later runs: an older one is forgotten
 * (Let's Encrypt's orders expire after 7 days; an order still not issued by then will not be).
 */
export const PENDING_ORDER_MAX_AGE_MS = 7 * DAY;
/** Certificates this short renew at half their lifetime, longer ones at two thirds. */
const SHORT_LIFETIME = 10 * DAY;

export interface Verdict {
  renew: boolean;
  why: string;
}

/**
 * The lifetime rule: due when less than a third of the lifetime is left, or less than half for a
 * certificate of 10 days or less (so a 6-day certificate is not renewed on every run, and a
 * 90-day one still renews at 30 days). Dates that cannot be read mean due, never valid forever.
 */
export function lifetimeVerdict(notBefore: number, notAfter: number, now: number): Verdict {
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter) || notAfter <= notBefore) {
    return { renew: true, why: 'certificate validity dates cannot be read, renewing' };
  }
  const lifetime = notAfter - notBefore;
  const fraction = lifetime <= SHORT_LIFETIME ? 2 : 3;
  const left = notAfter - now;
  const days = Math.floor(left / DAY);
  if (left < lifetime / fraction) return { renew: true, why: `certificate renewable: ${days} days left (under 1/${fraction} of its lifetime)` };
  return { renew: false, why: `certificate valid: ${days} days left` };
}

export interface RenewalWindow {
  start: number;
  end: number;
}

/**
 * The moment inside the CA's suggested window at which to renew (RFC 9773 §4.2: uniformly at
 * random), drawn from the certificate and the window themselves: daily runs then agree on one
 * moment rather than each drawing anew, and different certificates spread over the window.
 */
export function renewalMoment(certId: string, window: RenewalWindow): number {
  const digest = createHash('sha256').update(`${certId} ${window.start} ${window.end}`).digest();
  return window.start + Math.floor((digest.readUIntBE(0, 6) / 2 ** 48) * (window.end - window.start));
}

export function windowVerdict(certId: string, window: RenewalWindow, now: number): Verdict {
  const moment = renewalMoment(certId, window);
  const span = `the CA's renewal window ${utcTime(window.start)} to ${utcTime(window.end)}`;
  if (now >= moment) return { renew: true, why: `certificate renewable: ${span} (renewing from ${utcTime(moment)})` };
  return { renew: false, why: `certificate valid: ${span}, renewing from ${utcTime(moment)}` };
}

/**
 * Whether the CA asks for renewal long before the usual time (after a mass revocation, say): the
 * window ends more than a third of the lifetime before expiry. Its explanation is then shown
 * without -v.
 */
export function windowIsEarly(window: RenewalWindow, notBefore: number, notAfter: number): boolean {
  return window.end < notAfter - (notAfter - notBefore) / 3;
}

/**
 * What a run remembers of the CA's renewal information for one certificate, in the certificate
 * directory. `renewalInfo` false: the CA offered none when last asked, and the lifetime rule
 * decides for this certificate. `askAfter`: the CA's Retry-After; until then no run asks again,
 * and `window` (the last answer, if any) decides.
 */
export interface RenewalState {
  /** null: no certificate yet (the state holds only a pending order). */
  certId: string | null;
  directoryUrl: string;
  renewalInfo: boolean;
  window: RenewalWindow | null;
  askAfter: number | null;
  pendingOrder?: PendingOrder;
}

/**
 * An order the CA was still issuing (processing) when a run gave up at --poll-timeout: ZeroSSL can
 * take minutes. The next run for the same names, directory and domain key looks at it first and
 * downloads its certificate when it is valid, rather than ordering and finalizing again.
 */
export interface PendingOrder {
  url: string;
  names: string[];
  /** The domain key's public half (base64url SPKI) the order was finalized with. */
  publicKey: string;
  /** When a run first kept it. */
  keptSince: number;
}

/** The pending order of `state` if it may still be looked at for these names at this CA, else null and why not. */
export function usablePendingOrder(state: RenewalState | null, directoryUrl: string, names: string[], now: number): { order: PendingOrder | null; forgotten: string | null } {
  const order = state?.pendingOrder;
  if (order === undefined || state === null) return { order: null, forgotten: null };
  const same = (a: string[], b: string[]): boolean => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
  if (state.directoryUrl !== directoryUrl) return { order: null, forgotten: 'it is at another CA' };
  if (!same(order.names, names)) return { order: null, forgotten: 'it is for other names' };
  if (now - order.keptSince > PENDING_ORDER_MAX_AGE_MS) return { order: null, forgotten: `it was kept on ${utcTime(order.keptSince)}, more than 7 days ago` };
  if (order.keptSince > now) return { order: null, forgotten: `it was kept on ${utcTime(order.keptSince)}, which is yet to come` };
  return { order, forgotten: null };
}

/** The state file's JSON, checked; null for anything unusable (it is then as if absent). */
export function parseRenewalState(text: string | null): RenewalState | null {
  if (text === null) return null;
  try {
    return renewalStateFrom(JSON.parse(text));
  } catch {
    return null;
  }
}

/** A state from a peer's message or the file; throws a ShapeError when malformed. */
export function renewalStateFrom(value: unknown): RenewalState {
  const o = c.object(value, 'state');
  const window = o.window === null ? null : c.object(o.window, 'window');
  const when = (fields: c.Fields, key: string): number => {
    const ms = Date.parse(c.string(fields, key, 64));
    if (Number.isNaN(ms)) throw new c.ShapeError(`${key} is not a date`);
    return ms;
  };
  const pending = o.pendingOrder === undefined ? null : c.object(o.pendingOrder, 'pendingOrder');
  return {
    certId: c.optionalString(o, 'certId', 1024),
    directoryUrl: c.string(o, 'directoryUrl', 4096),
    renewalInfo: c.boolean(o, 'renewalInfo'),
    window: window === null ? null : { start: when(window, 'start'), end: when(window, 'end') },
    askAfter: o.askAfter === null ? null : when(o, 'askAfter'),
    ...(pending === null ? {} : {
      pendingOrder: {
        url: c.string(pending, 'url', 4096), names: c.stringArray(pending, 'names'), publicKey: c.base64url(pending, 'publicKey', 8192),
        keptSince: when(pending, 'keptSince'),
      },
    }),
  };
}

/** The JSON text the state file holds (dates as RFC 3339, for a human reading it). */
export function renewalStateJson(state: RenewalState): string {
  const window = state.window === null ? null : { start: utcTime(state.window.start), end: utcTime(state.window.end) };
  const pendingOrder = state.pendingOrder === undefined ? {} : { pendingOrder: { ...state.pendingOrder, keptSince: utcTime(state.pendingOrder.keptSince) } };
  return `${JSON.stringify({ ...state, window, askAfter: state.askAfter === null ? null : utcTime(state.askAfter), ...pendingOrder }, null, 2)}\n`;
}
