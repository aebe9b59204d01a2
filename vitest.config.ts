import { defineConfig } from "vitest/config";

// The e2e and integration suites spawn real CLIs and detached workers: give them time, and keep
// parallelism to the machine's two cores so timing-sensitive tests are not starved.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: "forks",
    maxWorkers: 2,
    globalSetup: ["test/helpers/global-setup.ts"],
  },
});
