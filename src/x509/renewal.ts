// When a certificate on disk is due for renewal.

const DAY = 86_400_000;

/** The renewal window: under 30 days left, or under a third of the lifetime (half for short ones). */
export function renewalVerdict(notBefore: number, notAfter: number, now: number): { renew: boolean; why: string } {
  const left = notAfter - now;
  const days = Math.floor(left / DAY);
  const lifetime = notAfter - notBefore;
  const fraction = lifetime < 10 * DAY ? 2 : 3;
  if (left < 30 * DAY) return { renew: true, why: `certificate renewable: ${days} days left (under 30 days)` };
  if (left < lifetime / fraction) return { renew: true, why: `certificate renewable: ${days} days left (under 1/${fraction} of its lifetime)` };
  return { renew: false, why: `certificate valid: ${days} days left` };
}
