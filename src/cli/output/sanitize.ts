// Untrusted text (messages, attributes, logs, stacks, executor names) made safe for a terminal:
// every escape sequence and control character an executor could use to clear the screen,
// retitle the window or plant links is removed. `--json` output never goes through this.

// ESC followed by: CSI … final byte; OSC/DCS/SOS/PM/APC … terminated by BEL or ESC \; or one char.
// eslint-disable-next-line no-control-regex
const ESCAPE_SEQUENCE = /\u001b(?:\[[0-?]*[ -/]*[@-~]|[\]PX^_][\s\S]*?(?:\u0007|\u001b\\|$)|[@-Z\\-_]|.?)/g;
// C1 CSI (0x9b) sequences, then any remaining C0 (but \t and \n), DEL and C1 control.
// eslint-disable-next-line no-control-regex
const C1_SEQUENCE = /\u009b[0-?]*[ -/]*[@-~]/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Keeps newlines and tabs; removes everything else that could steer a terminal. */
export function sanitize(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, "").replace(C1_SEQUENCE, "").replace(CONTROL, "");
}

/** For one table cell or one line: newlines and tabs become spaces too. */
export function sanitizeInline(text: string): string {
  return sanitize(text).replace(/[\n\t]+/g, " ");
}
