// core/context.ts: what a context may be, and where a bad one is at fault.
import { describe, expect, it } from "vitest";
import { MAX_CONTEXT_BYTES, mergeContext, parseContextJson, parsePairs, validateContext } from "../../src/core/context.ts";
import { UsageError } from "../../src/errors.ts";

const nested = (depth: number) => `{"a":${"[".repeat(depth)}${"]".repeat(depth)}}`;

function fault(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    return error as UsageError;
  }
  throw new Error("expected a UsageError");
}

describe("parsePairs", () => {
  it("parses values as JSON when they parse, else keeps the string", () => {
    expect(parsePairs(["n=1", "t=true", "s=hello", 'q="1"', 'o={"b":[1,2]}', "e=", "eq=a=b", "nul=null"])).toEqual({
      n: 1,
      t: true,
      s: "hello",
      q: "1",
      o: { b: [1, 2] },
      e: "",
      eq: "a=b",
      nul: null,
    });
  });

  it("keeps a number JSON cannot hold exactly as the string typed, instead of losing digits", () => {
    expect(parsePairs(["id=12345678901234567890", "neg=-9007199254740993", "inf=1e400", "max=9007199254740991", "f=0.5", "e=1e3"])).toEqual({
      id: "12345678901234567890",
      neg: "-9007199254740993",
      inf: "1e400",
      max: 9007199254740991,
      f: 0.5,
      e: 1000,
    });
  });

  it("lets a later pair win over an earlier one with the same key", () => {
    expect(parsePairs(["a=1", "a=2"])).toEqual({ a: 2 });
  });

  it("accepts letters, digits, _ and - in keys, starting with a letter or _", () => {
    expect(Object.keys(parsePairs(["a_b-c9=1", "_x=2"]))).toEqual(["a_b-c9", "_x"]);
  });

  it("names the argument at fault", () => {
    expect(fault(() => parsePairs(["ok=1", "novalue"])).message).toMatch(/^argument 2 \("novalue"\) is not a key=value pair/);
    expect(fault(() => parsePairs(["=1"])).message).toMatch(/argument 1 \("=1"\) is not a key=value pair/);
    expect(fault(() => parsePairs(["9a=1"])).message).toMatch(/argument 1 \("9a=1"\) has an invalid key/);
    expect(fault(() => parsePairs(["a.b=1"])).message).toMatch(/has an invalid key/);
    expect(fault(() => parsePairs([`${"k".repeat(129)}=1`])).message).toMatch(/has an invalid key/);
    expect(fault(() => parsePairs([`${"x".repeat(100)}`])).message).toContain(`${"x".repeat(40)}…`);
  });

  it("refuses prototype keys, as the key and inside a JSON value", () => {
    for (const key of ["__proto__", "constructor", "prototype"]) {
      expect(fault(() => parsePairs([`${key}=1`])).message).toContain(`forbidden key "${key}"`);
    }
    expect(fault(() => parsePairs(['a={"__proto__":{"x":1}}'])).message).toMatch(/forbidden key "__proto__" at context\.a/);
  });
});

describe("parseContextJson", () => {
  it("accepts a JSON object and returns it", () => {
    expect(parseContextJson('{"file":"users.csv","n":[1,{"b":null}]}', "--ctx")).toEqual({ file: "users.csv", n: [1, { b: null }] });
  });

  it("refuses anything but an object, saying what it got", () => {
    expect(fault(() => parseContextJson("[]", "--ctx")).message).toMatch(/^--ctx must be a JSON object .*got an array$/);
    expect(fault(() => parseContextJson("42", "--ctx")).message).toMatch(/got number$/);
    expect(fault(() => parseContextJson('"s"', "--ctx")).message).toMatch(/got string$/);
    expect(fault(() => parseContextJson("null", "--ctx")).message).toMatch(/got null$/);
    expect(fault(() => parseContextJson("not json", "--ctx")).message).toMatch(/^--ctx is not valid JSON: /);
    expect(fault(() => parseContextJson("", "--ctx")).message).toMatch(/^--ctx is not valid JSON/);
  });

  it("refuses prototype keys at any depth, naming the path", () => {
    expect(fault(() => parseContextJson('{"__proto__":{"x":1}}', "--ctx")).message).toBe('--ctx has the forbidden key "__proto__" at the top level; rename it');
    expect(fault(() => parseContextJson('{"a":[0,{"constructor":{"prototype":1}}]}', "src")).message).toMatch(/forbidden key "constructor" at context\.a\[1\]/);
    expect(fault(() => parseContextJson('{"a":{"prototype":1}}', "src")).message).toMatch(/forbidden key "prototype" at context\.a/);
  });

  it("allows ordinary nesting and refuses deep nesting without overflowing the stack", () => {
    expect(() => parseContextJson(nested(50), "--ctx")).not.toThrow();
    expect(fault(() => parseContextJson(nested(70), "--ctx")).message).toMatch(/nested deeper than 64 levels at context\.a\[0\]/);
    expect(fault(() => parseContextJson(nested(100_000), "--ctx")).message).toMatch(/nested deeper than 64 levels/);
  });

  it("refuses text over the size cap before parsing it", () => {
    const big = JSON.stringify({ blob: "x".repeat(MAX_CONTEXT_BYTES) });
    expect(fault(() => parseContextJson(big, "--ctx-file big.json")).message).toMatch(/^--ctx-file big\.json is larger than 1024 KiB/);
    // The cap is in bytes, not characters.
    const multibyte = JSON.stringify({ blob: "é".repeat(MAX_CONTEXT_BYTES / 2) });
    expect(multibyte.length).toBeLessThan(MAX_CONTEXT_BYTES);
    expect(fault(() => parseContextJson(multibyte, "x")).message).toMatch(/larger than/);
  });
});

describe("validateContext and mergeContext", () => {
  it("returns the very object it checked", () => {
    const value = { a: 1 };
    expect(validateContext(value, "x")).toBe(value);
  });

  it("lets pairs override the JSON context's top-level keys", () => {
    expect(mergeContext({ a: 1, b: { c: 2 } }, { b: 3, d: 4 }, "the task")).toEqual({ a: 1, b: 3, d: 4 });
    expect(mergeContext(null, { a: 1 }, "the task")).toEqual({ a: 1 });
  });

  it("does not pollute Object.prototype whatever it is given", () => {
    try {
      parseContextJson('{"__proto__":{"polluted":true}}', "x");
    } catch {
      // refused, as above
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
