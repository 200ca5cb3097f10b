// The bench's cases. To add one: its id in CASES and its title in CASE_TITLE; tsc then names the
// other tables keyed by case (JOB in report.ts); each client's spec() in peers.ts gives its command for
// it, and runCase in runner.ts any untimed preparation.
import { NAME1 } from './common.js';
export const CASES = ['issue1', 'issue100', 'noop', 'revoke'] as const;
export type CaseId = (typeof CASES)[number];
const EXTRAS = ['node', 'keygen', 'noop-ari'] as const;
export const NODE_STARTS_NODE = 'node starting node -e 0';
/** The least our design's no-op costs (scripts/noop-floor.ts): a reference row beside the no-op. */
export const NOOP_FLOOR = 'no-op floor of this design';
/** Our no-op when the CA's renewal window decides (ARI, the default): a row beside the no-op decided locally. */
export const NOOP_ARI = 'noop-ari';
export const ALL_CASES: readonly string[] = [...CASES, ...EXTRAS];
export const CASE_TITLE: Record<CaseId, string> = {
  issue1: `(a) Issuance, 1 name (${NAME1}), forced`,
  issue100: '(b) Issuance, 100 names in one certificate (n1..n100.bench.example.test), forced',
  noop: '(c) Nightly no-op: the certificate is valid, nothing to do',
  revoke: `(d) Revocation of ${NAME1}'s certificate`,
};
