import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/** The independent verifier printed in docs/protocol.md, Appendix A, exactly as printed. */
export function pythonVerifierSource(): string {
  const protocol = readFileSync(new URL("../../docs/protocol.md", import.meta.url), "utf8");
  const appendix = protocol.slice(protocol.indexOf("## Appendix A"));
  const code = /```python\n([\s\S]*?)\n```/.exec(appendix);
  if (!code) throw new Error("docs/protocol.md Appendix A holds no python block");
  return `${code[1]}\n`;
}

export interface PythonVerdict {
  exitCode: number;
  verdict: string;
  /** Each check's status, by id: content, leaf, inclusion, anchor, signature. */
  checks: Record<string, string>;
  output: string;
}

/** Writes the verifier into `dir` and returns a function that runs it (python3) with the given arguments. */
export function pythonVerifier(dir: string): (args: string[]) => Promise<PythonVerdict> {
  const script = path.join(dir, "verify_ea.py");
  writeFileSync(script, pythonVerifierSource());
  return (args) =>
    new Promise((resolve, reject) => {
      execFile("python3", [script, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
        const exitCode = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        const lines = stdout.trim().split("\n");
        const verdict = lines.at(-1) ?? "";
        if (![0, 1, 3].includes(exitCode) || !["valid", "invalid", "indeterminate"].includes(verdict)) {
          reject(new Error(`python3 verify_ea.py ${args.join(" ")} exited ${exitCode}: ${stdout}${stderr}`));
          return;
        }
        const checks = Object.fromEntries(lines.slice(0, -1).map((l) => l.split(/\s+/).slice(0, 2)));
        resolve({ exitCode, verdict, checks, output: stdout });
      });
    });
}
