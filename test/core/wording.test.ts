import { expect } from "chai";
import { readFileSync } from "node:fs";
import { timeText } from "../../service/core/verify/wording.ts";

interface TimeVector {
  time: string;
  zone: string;
  en: string;
  zh: string;
}

const VECTORS = JSON.parse(
  readFileSync(new URL("../vectors/wording/time-text.json", import.meta.url), "utf8"),
) as TimeVector[];

describe("times in verdicts (core/verify/wording.ts)", () => {
  const saved = process.env.TZ;
  afterEach(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });

  for (const v of VECTORS) {
    it(`shows ${v.time} in ${v.zone} as ${v.en}, whether the zone is the reader's own or named`, () => {
      const date = new Date(v.time);
      const named = [timeText(date, "en", v.zone).local, timeText(date, "zh-CN", v.zone).local];
      process.env.TZ = v.zone;
      const own = [timeText(date, "en").local, timeText(date, "zh-CN").local];
      expect({ named, own }).to.deep.equal({ named: [v.en, v.zh], own: [v.en, v.zh] });
    });
  }

  it("gives the same moment in UTC whatever the zone", () => {
    process.env.TZ = "Asia/Shanghai";
    expect(timeText(1_795_704_371, "en").utc).to.equal("2026-11-26 14:46:11 UTC");
  });
});
