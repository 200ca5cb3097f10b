// When a certificate on disk is due for renewal, in the order the man page gives: -F and a change
// of names are certproc's to see; then the CA's renewal window (ARI, RFC 9773) when it offers one;
// else the lifetime rule. And the small state that lets daily runs keep the CA's answer between
// them (written by fileproc, read by certproc).

import { createHash } from 'node:crypto';
import * as c from '../check.js';
import { utcTime } from '../log.js';

const DAY = 86_400_000;
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
  certId: string;
  directoryUrl: string;
  renewalInfo: boolean;
  window: RenewalWindow | null;
  askAfter: number | null;
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
  return {
    certId: c.string(o, 'certId', 1024),
    directoryUrl: c.string(o, 'directoryUrl', 4096),
    renewalInfo: c.boolean(o, 'renewalInfo'),
    window: window === null ? null : { start: when(window, 'start'), end: when(window, 'end') },
    askAfter: o.askAfter === null ? null : when(o, 'askAfter'),
  };
}

/** The JSON text the state file holds (dates as RFC 3339, for a human reading it). */
export function renewalStateJson(state: RenewalState): string {
  const window = state.window === null ? null : { start: utcTime(state.window.start), end: utcTime(state.window.end) };
  return `${JSON.stringify({ ...state, window, askAfter: state.askAfter === null ? null : utcTime(state.askAfter) }, null, 2)}\n`;
}
