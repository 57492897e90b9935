import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { CDPSession } from "playwright-core";

const run = promisify(execFile);

/** Debian's ffmpeg (package `ffmpeg`), used to encode the screencast. */
export const DEFAULT_FFMPEG = "/usr/bin/ffmpeg";

/**
 * A video of the capture as the browser painted it: Chrome DevTools Protocol screencast frames
 * (`Page.startScreencast`, JPEG), each kept with the time the browser painted it, then encoded
 * to H.264 MP4 by ffmpeg with each frame shown for as long as it was on screen (ffconcat
 * `duration`), so the video runs in real time even though frames arrive only when the page
 * changes. Playwright's own `recordVideo` needs Playwright's ffmpeg download, which this
 * service does not use.
 */
export class ScreencastRecorder {
  private readonly frames: { file: string; at: number }[] = [];
  private bytes = 0;
  private stoppedAt: number | undefined;
  private pending = Promise.resolve();

  private readonly cdp: CDPSession;
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly size: { width: number; height: number };

  private constructor(cdp: CDPSession, dir: string, maxBytes: number, size: { width: number; height: number }) {
    this.cdp = cdp;
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.size = size;
  }

  /** Starts the screencast; frames are kept in a private temporary directory until {@link encode}. */
  static async start(
    cdp: CDPSession,
    options: { width: number; height: number; maxBytes: number },
  ): Promise<ScreencastRecorder> {
    const dir = await mkdtemp(path.join(tmpdir(), "evidence-screencast-"));
    const recorder = new ScreencastRecorder(cdp, dir, options.maxBytes, evenSize(options));
    cdp.on("Page.screencastFrame", (frame) => recorder.onFrame(frame));
    try {
      await cdp.send("Page.startScreencast", {
        format: "jpeg",
        quality: 80,
        maxWidth: options.width,
        maxHeight: options.height,
        everyNthFrame: 1,
      });
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
    return recorder;
  }

  get frameCount(): number {
    return this.frames.length;
  }

  private onFrame(frame: { data: string; sessionId: number; metadata: { timestamp?: number } }): void {
    // Acknowledge at once: the browser sends the next frame only after the previous one is acknowledged.
    this.cdp.send("Page.screencastFrameAck", { sessionId: frame.sessionId }).catch(() => {});
    if (this.stoppedAt !== undefined) return;
    const data = Buffer.from(frame.data, "base64");
    if (this.bytes + data.length > this.maxBytes) return; // past the budget the video shows the last frame kept
    this.bytes += data.length;
    const file = path.join(this.dir, `frame-${String(this.frames.length).padStart(6, "0")}.jpg`);
    this.frames.push({ file, at: (frame.metadata.timestamp ?? Date.now() / 1000) * 1000 });
    this.pending = this.pending.then(() => writeFile(file, data));
  }

  async stop(): Promise<void> {
    if (this.stoppedAt !== undefined) return;
    this.stoppedAt = Date.now();
    await this.cdp.send("Page.stopScreencast").catch(() => {});
    await this.pending;
  }

  /**
   * Encodes the frames to `outFile` (H.264, yuv420p, 10 frames per second, `+faststart` so a
   * player can start before the whole file is read). The video is the viewport's size: the
   * browser paints some frames smaller (the screencast fits a surface a few pixels taller than
   * the viewport into it, keeping its aspect), and those are scaled to fit and centred, never
   * stretched, so one odd first frame cannot set the size of the whole video. Returns the number of frames and the
   * duration in milliseconds, or undefined when no frame was painted.
   */
  async encode(
    outFile: string,
    options: { ffmpeg: string; timeoutMs: number },
  ): Promise<{ frames: number; durationMs: number } | undefined> {
    await this.stop();
    if (this.frames.length === 0) return undefined;
    const end = Math.max(this.stoppedAt!, this.frames.at(-1)!.at + 100);
    const lines = ["ffconcat version 1.0"];
    this.frames.forEach((frame, i) => {
      const next = this.frames[i + 1]?.at ?? end;
      lines.push(`file '${path.basename(frame.file)}'`, `duration ${(Math.max(next - frame.at, 1) / 1000).toFixed(3)}`);
    });
    // The concat demuxer ignores the last entry's duration unless the file is listed again.
    lines.push(`file '${path.basename(this.frames.at(-1)!.file)}'`);
    const list = path.join(this.dir, "frames.ffconcat");
    const { width, height } = this.size;
    await writeFile(list, `${lines.join("\n")}\n`);
    await run(
      options.ffmpeg,
      [
        ...["-hide_banner", "-loglevel", "error", "-nostdin", "-y"],
        ...["-f", "concat", "-safe", "0", "-i", list],
        ...[
          "-vf",
          `fps=10,scale=${width}:${height}:force_original_aspect_ratio=decrease,pad=${width}:${height}:-1:-1,format=yuv420p`,
        ],
        ...["-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-movflags", "+faststart", "-an", outFile],
      ],
      { timeout: options.timeoutMs, killSignal: "SIGKILL" },
    );
    return { frames: this.frames.length, durationMs: Math.round(end - this.frames[0]!.at) };
  }

  /** Removes the frames. */
  async dispose(): Promise<void> {
    await this.stop().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** H.264 in yuv420p needs even dimensions. */
function evenSize(size: { width: number; height: number }): { width: number; height: number } {
  return { width: size.width - (size.width % 2), height: size.height - (size.height % 2) };
}

/** True when an ffmpeg binary exists at `ffmpeg`. */
export function hasFfmpeg(ffmpeg: string): boolean {
  return existsSync(ffmpeg);
}
