/** Entry point of the bundled seeder.cjs (scripts/seeder-bundle.ts): `node seeder.cjs <manifest> [flags]`. */
import { runMain } from './cli';

runMain(process.argv);
