// cli/output/sanitize.ts: untrusted text loses every way of steering a terminal, keeps its words.
import { describe, expect, it } from "vitest";
import { sanitize, sanitizeInline } from "../../src/cli/output/sanitize.ts";

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe("sanitize", () => {
  it.each([
    ["window title (OSC 0, BEL)", "a\u001b]0;pwned\u0007b", "ab"],
    ["window title (OSC 2, ST)", "a\u001b]2;pwned\u001b\\b", "ab"],
    ["clear screen (CSI)", "a\u001b[2Jb", "ab"],
    ["colors and cursor moves", "\u001b[1;31mred\u001b[0m \u001b[10;20H\u001b[?25l", "red "],
    ["hyperlink (OSC 8)", "\u001b]8;;http://evil.example\u001b\\click\u001b]8;;\u001b\\", "click"],
    ["clipboard write (OSC 52)", "x\u001b]52;c;cm0gLXJmIH4=\u0007y", "xy"],
    ["DCS, SOS, PM and APC strings", "a\u001bPq#0\u001b\\b\u001bXsos\u001b\\c\u001b^pm\u001b\\d\u001b_apc\u001b\\e", "abcde"],
    ["C1 CSI (0x9b)", "a\u009b31mb", "ab"],
    ["other C1 controls", "a\u0085b\u008dc\u0090d", "abcd"],
    ["a lone ESC and two-byte escapes", "a\u001bcb\u001b7c\u001b", "abc"],
    ["an unterminated OSC swallows the rest", "ok\u001b]0;never ends", "ok"],
    ["carriage return, backspace, BEL, DEL, NUL", "a\rb\bc\u0007d\u007fe\u0000f", "abcdef"],
  ])("%s", (_, input, output) => {
    expect(sanitize(input)).toBe(output);
    expect(sanitize(input)).not.toMatch(UNSAFE);
  });

  it("keeps newlines, tabs and every printable character, including non-Latin text and emoji", () => {
    const text = "line 1\n\tline 2 — café, 東京, 🚀, ¿qué? ¥100 ©";
    expect(sanitize(text)).toBe(text);
  });

  it("leaves nothing unsafe in any mix of control bytes", () => {
    let all = "";
    for (let code = 0; code <= 0xa0; code++) all += `${String.fromCharCode(code)}x`;
    expect(sanitize(all)).not.toMatch(UNSAFE);
    expect(sanitize(all + all)).not.toMatch(UNSAFE);
  });
});

describe("sanitizeInline", () => {
  it("also turns newlines and tabs into single spaces, for one table cell", () => {
    expect(sanitizeInline("a\n\nb\tc\r\nd")).toBe("a b c d");
    expect(sanitizeInline("x\u001b[2J\ny")).toBe("x y");
  });
});
