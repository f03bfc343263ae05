/**
 * What counts as "this machine": local runs send tasks only to local workers, the worker SDK trusts only a local
 * emulator's token keys, and the emulator warns when it listens anywhere else. One definition for all of them.
 */

/** localhost, ::1 (with or without URL brackets) and 127.0.0.0/8. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h);
}
