// Preloaded (node --require) by bench/lib/measure.ts when GNU time is not installed: writes this process's resource
// usage (CPU microseconds, maxRSS in KiB) to BENCH_RESOURCE_USAGE_FILE when it exits.
'use strict';
const file = process.env.BENCH_RESOURCE_USAGE_FILE;
if (file) {
  // Children must not overwrite the parent's report.
  delete process.env.BENCH_RESOURCE_USAGE_FILE;
  process.on('exit', () => {
    require('node:fs').writeFileSync(file, JSON.stringify(process.resourceUsage()));
  });
}
