// Test order: the suites that use Google's Firestore emulator run last, so the emulator's JVM (started by
// global-setup.ts without waiting) boots while the other suites run instead of making the first suite wait for it.
// Within each group, jest's own order (failed first, then slowest first). Plain CommonJS: jest loads the sequencer
// without transforming it.
'use strict';
const { readdirSync, readFileSync } = require('node:fs');
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

/** A suite uses the emulator when it calls the ledger helpers' testFirestore or startHarness. */
const USES_FIRESTORE = /\b(testFirestore|startHarness)\(/;

/** The test files under `dir` that use the Firestore emulator (absolute paths). */
function firestoreSuites(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...firestoreSuites(file));
    else if (entry.name.endsWith('.test.ts') && USES_FIRESTORE.test(readFileSync(file, 'utf8'))) out.push(file);
  }
  return out;
}

class FirestoreLastSequencer extends Sequencer {
  sort(tests) {
    const sorted = super.sort(tests);
    const uses = (t) => USES_FIRESTORE.test(readFileSync(t.path, 'utf8'));
    return [...sorted.filter((t) => !uses(t)), ...sorted.filter(uses)];
  }
}

module.exports = FirestoreLastSequencer;
module.exports.firestoreSuites = firestoreSuites;
