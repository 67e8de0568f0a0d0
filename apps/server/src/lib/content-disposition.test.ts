import { describe, expect, test } from "vitest";
import { attachment } from "./content-disposition.js";

describe("attachment", () => {
  test("names the last segment of the path, in ASCII and exactly", () => {
    expect(attachment("model/config.json")).toBe(`attachment; filename="config.json"; filename*=UTF-8''config.json`);
    expect(attachment("weights")).toBe(`attachment; filename="weights"; filename*=UTF-8''weights`);
  });

  test("keeps quotes, backslashes, non-ASCII and control characters out of the header's syntax", () => {
    expect(attachment('dir/wé "v2"\\%.bin')).toBe(
      `attachment; filename="w_ _v2___.bin"; filename*=UTF-8''w%C3%A9%20%22v2%22%5C%25.bin`,
    );
    expect(attachment("a\r\nb;c='d'")).toBe(
      `attachment; filename="a__b;c='d'"; filename*=UTF-8''a%0D%0Ab%3Bc%3D%27d%27`,
    );
    // A lone surrogate is written as the UTF-8 of U+FFFD, never thrown on.
    expect(attachment("x\ud800")).toBe(`attachment; filename="x_"; filename*=UTF-8''x%EF%BF%BD`);
  });
});
