/** The spec's duration syntax; defined in lib/core/duration.ts, which the seeder's flags share. */
export * from '../core/duration';
