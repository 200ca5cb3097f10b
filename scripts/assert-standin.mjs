// What the bundles give yargs in place of node:assert. yargs asserts two things about its own
// arguments with strictEqual and notStrictEqual; loading node:assert for them costs every run a
// measurable part of its start-up (bench/RESULTS.md). Same checks, same failure: an exception.
export function strictEqual(actual, expected, message) {
  if (actual !== expected) throw new Error(message ?? `${String(actual)} !== ${String(expected)}`);
}

export function notStrictEqual(actual, expected, message) {
  if (actual === expected) throw new Error(message ?? `${String(actual)} === ${String(expected)}`);
}

export default { strictEqual, notStrictEqual };
