import { expect } from "chai";
import { captureFailureText } from "../../service/core/api.ts";
import type { CaptureErrorCode } from "../../service/capture/errors.ts";

// Every code a stored capture can carry: those of service/capture/errors.ts but INVALID_REQUEST
// (answered to the request itself), and INTERRUPTED, which the capture service stores when a
// capture was cut short by restarts.
const STORED_CODES: (CaptureErrorCode | "INTERRUPTED")[] = [
  "BUSY",
  "INTERRUPTED",
  "URL_REFUSED",
  "ADDRESS_REFUSED",
  "HOST_NOT_FOUND",
  "TIMEOUT",
  "PAGE_TOO_LARGE",
  "ARTIFACTS_TOO_LARGE",
  "NAVIGATION_FAILED",
  "BROWSER_UNAVAILABLE",
  "CANCELLED",
  "CAPTURE_FAILED",
];

describe("captureFailureText: why a capture failed, for its user", () => {
  it("says it in Chinese by the code, keeping the service's message as the technical detail", () => {
    expect(captureFailureText({ code: "TIMEOUT", message: "the capture took longer than 60000 ms" }, "zh-CN")).to.equal(
      "网页加载超过了取证时限（技术细节：the capture took longer than 60000 ms）",
    );
  });

  it("says it in English by the code, the message in brackets", () => {
    expect(captureFailureText({ code: "HOST_NOT_FOUND", message: "cannot resolve shop.example" }, "en")).to.equal(
      "the site's name does not resolve (cannot resolve shop.example)",
    );
  });

  it("has a Chinese sentence for every code a stored capture can carry", () => {
    for (const code of STORED_CODES) {
      const text = captureFailureText({ code, message: "detail" }, "zh-CN");
      // Chinese, save the names of protocols.
      expect(text.replace(/https?/g, ""), code).to.match(/^[^A-Za-z]+（技术细节：detail）$/);
    }
  });

  it("falls back to the message for a code it does not know, and to nothing for no error", () => {
    expect(captureFailureText({ code: "SOMETHING_NEW", message: "a reason" }, "zh-CN")).to.equal("a reason");
    expect(captureFailureText({ code: "toString", message: "a reason" }, "en")).to.equal("a reason");
    expect(captureFailureText(undefined, "en")).to.equal("");
  });
});
