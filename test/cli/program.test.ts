import { expect } from "chai";
import { COMMANDS } from "../../service/cli/main.ts";
import { environmentLanguage } from "../../service/cli/program.ts";

describe("CLI: the reader's language", () => {
  it("is the locale's variables' (LC_ALL over LC_MESSAGES over LANG), else the system's locale", () => {
    const cases: [Record<string, string>, string | undefined, string][] = [
      [{ LANG: "zh_CN.UTF-8" }, "en-US", "zh-CN"],
      [{ LC_ALL: "en_US.UTF-8", LANG: "zh_CN.UTF-8" }, "zh-CN", "en"],
      [{ LC_MESSAGES: "zh_TW.UTF-8", LANG: "en_US.UTF-8" }, "en-US", "zh-CN"],
      [{ LC_ALL: "", LANG: "C" }, "zh-CN", "en"],
      // Windows sets none of them: its system locale (which ICU reads from Windows) decides.
      [{}, "zh-CN", "zh-CN"],
      [{ LC_ALL: "", LANG: "" }, "zh-Hans-CN", "zh-CN"],
      [{}, "en-GB", "en"],
      [{}, undefined, "en"],
    ];
    for (const [env, system, lang] of cases) {
      expect(
        environmentLanguage(env, () => system),
        `${JSON.stringify(env)} ${system}`,
      ).to.equal(lang);
    }
  });

  it("has the same options in a command's Chinese usage as in its English one", () => {
    const optionsIn = (text: string) => [...new Set(text.match(/--[a-z][a-z0-9-]*/g) ?? [])].sort();
    const translated = COMMANDS.filter((c) => c.usageZh !== undefined).map((c) => c.name);
    expect(translated).to.include.members(["submit", "capture", "status", "certificate", "verify", "hash"]);
    for (const command of COMMANDS) {
      expect(command.summaryZh, command.name).to.be.a("string");
      if (command.usageZh === undefined) continue;
      expect(command.usageZh, command.name).to.match(new RegExp(`^用法：evidence ${command.name} `));
      expect(optionsIn(command.usageZh), command.name).to.deep.equal(optionsIn(command.usage));
      for (const option of Object.keys(command.options)) {
        expect(command.usageZh, `${command.name} --${option}`).to.include(`--${option}`);
      }
    }
  });
});
