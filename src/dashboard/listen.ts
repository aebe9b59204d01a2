// Binding a server of `bgtask ui` or `bgtask metrics` to its address: the ways it can fail, each
// as the one sentence of a usage error.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { UsageError } from "../errors.ts";

/** Listens on `host`:`port` (0: a free one); resolves to the port. */
export function listen(http: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE")
        reject(new UsageError(`port ${port} on ${host} is in use; pick another with --port (0 picks a free one)`, { code: "EPORTBUSY" }));
      else if (error.code === "EADDRNOTAVAIL" || error.code === "ENOTFOUND") reject(new UsageError(`--host ${host} is not an address of this machine`));
      else if (error.code === "EACCES") reject(new UsageError(`port ${port} needs privileges; pick one above 1023 with --port`));
      else reject(error);
    });
    http.listen(port, host, () => resolve((http.address() as AddressInfo).port));
  });
}
