/** Stops the Firestore emulator global-setup.ts started (its whole process group). */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__ledgerFirestoreEmulator?.stop();
}
