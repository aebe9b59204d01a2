// Names that must not collide between processes and calls (temp files, lease tokens, worker
// slots). They are not secrets: the folders they live in are private and every temp file is
// created exclusively. So no node:crypto, whose loading costs every command ≈3 ms.
const PROCESS_PART = `${process.pid.toString(36)}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
let made = 0;

export function uniqueName(): string {
  made += 1;
  return `${PROCESS_PART}-${made.toString(36)}`;
}
