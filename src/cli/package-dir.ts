// Where the installed bgtask package is, for views that tell its files from the user's.
import { fileURLToPath } from "node:url";

/** The installed bgtask package: resolved from here, at the depth of the CLI bundle (dist/cli/). */
export const PACKAGE_DIR = fileURLToPath(new URL("../../", import.meta.url));
