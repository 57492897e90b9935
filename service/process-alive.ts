import { readFileSync } from "node:fs";

/** Whether process `pid` is running (a zombie — exited, not yet reaped — does not count). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
