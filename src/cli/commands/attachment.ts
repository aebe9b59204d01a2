// `bgtask attachment get <id> <name>`: an attachment's bytes, to --output FILE or to stdout as
// they are; never raw onto a terminal, where binary bytes would be taken as control sequences.
import { createWriteStream, openSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { readAttachment } from "../../client/attachment.ts";
import { openSession } from "../../client/session.ts";
import type { LocationFlags } from "../../config/config.ts";
import { UsageError } from "../../errors.ts";

export async function attachmentGet(id: string, name: string, options: LocationFlags & { output?: string }): Promise<void> {
  if (options.output === undefined && process.stdout.isTTY)
    throw new UsageError(`attachment ${JSON.stringify(name)} is not written to a terminal: give --output FILE, or redirect stdout (> file)`, { code: "ETTY" });
  const file = await readAttachment(await openSession(options), id, name);
  if (options.output === undefined) {
    await pipeline(file.open(), process.stdout, { end: false });
    return;
  }
  let fd: number;
  try {
    fd = openSync(options.output, "w", 0o600);
  } catch (error) {
    throw new UsageError(
      `cannot write ${options.output} (${(error as NodeJS.ErrnoException).code ?? String(error)}); check that its folder exists and is writable`,
    );
  }
  await pipeline(file.open(), createWriteStream(options.output, { fd }));
}
