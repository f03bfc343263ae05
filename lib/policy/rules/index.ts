/** The rules of the pack, in id order. A new rule: one file `CTPnnn-<name>.ts`, listed here, documented in docs/policy.md. */
import type { PolicyRule } from '../types';
import { CTP001 } from './CTP001-unauthenticated-target';
import { CTP002 } from './CTP002-secret-in-headers';
import { CTP003 } from './CTP003-secret-in-seed-payload';
import { CTP004 } from './CTP004-unbounded-retries';
import { CTP005 } from './CTP005-oauth-non-google-host';
import { CTP006 } from './CTP006-required-labels';
import { CTP007 } from './CTP007-secret-in-target';

export const ALL_RULES: readonly PolicyRule[] = [CTP001, CTP002, CTP003, CTP004, CTP005, CTP006, CTP007];
