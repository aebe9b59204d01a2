import { describe, expect, it } from "vitest";
import { sanitize, sanitizeInline } from "../../src/cli/output/sanitize.ts";

describe("sanitize", () => {
  it.each([
    ["window title (OSC 0, BEL)", "a\u001b]0;pwned\u0007b", "ab"],
    ["clear screen (CSI)", "a\u001b[2Jb", "ab"],
    ["hyperlink (OSC 8, ST)", "\u001b]8;;http://x\u001b\\link\u001b]8;;\u001b\\", "link"],
    ["clipboard (OSC 52)", "a\u001b]52;c;aGk=\u0007b", "ab"],
    ["8-bit CSI", "a\u009b31mb", "ab"],
    ["DCS", "a\u001bPq#0;2;0;0;0\u001b\\b", "ab"],
    ["unterminated OSC", "a\u001b]0;never ends", "a"],
    ["cursor movement", "a\u001b[10Ab\u001b[Hc", "abc"],
    ["BEL, backspace, DEL, NUL", "a\u0007\b\u007f\u0000b", "ab"],
    ["carriage return", "50%\r60%", "50%60%"],
  ])("removes %s", (_name, input, output) => {
    expect(sanitize(input)).toBe(output);
  });

  it("keeps newlines and tabs, unless inline", () => {
    expect(sanitize("a\n\tb")).toBe("a\n\tb");
    expect(sanitizeInline("a\n\tb")).toBe("a b");
    expect(sanitize("héllo ✔ 日本")).toBe("héllo ✔ 日本");
  });
});
