import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { EventEmitter } from "node:events";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import type { CDPSession } from "playwright-core";
import { DEFAULT_FFMPEG, ScreencastRecorder } from "../../service/capture/screencast.ts";
import { tempDir } from "../helpers/processes.ts";

/**
 * The browser's side of a screencast, as the DevTools protocol delivers it: `Page.screencastFrame`
 * events carrying base64 JPEGs, each waiting for its acknowledgement. The frames are real JPEGs
 * made by ffmpeg; the encoding is ffmpeg's.
 */
class FrameSource extends EventEmitter {
  readonly sent: string[] = [];
  async send(method: string): Promise<void> {
    this.sent.push(method);
  }
  paint(jpeg: Buffer, timestamp: number, sessionId: number): void {
    this.emit("Page.screencastFrame", { data: jpeg.toString("base64"), sessionId, metadata: { timestamp } });
  }
}

function jpeg(dir: string, width: number, height: number, color: string): Buffer {
  const file = path.join(dir, `${color}-${width}x${height}.jpg`);
  execFileSync(DEFAULT_FFMPEG, [
    ...["-hide_banner", "-loglevel", "error", "-nostdin", "-y"],
    ...["-f", "lavfi", "-i", `color=${color}:s=${width}x${height}`, "-frames:v", "1", file],
  ]);
  return readFileSync(file);
}

function probe(file: string): { width: number; height: number; duration: number } {
  const out = JSON.parse(
    execFileSync("ffprobe", ["-v", "error", "-print_format", "json", "-show_streams", "-show_format", file], {
      encoding: "utf8",
    }),
  );
  return { width: out.streams[0].width, height: out.streams[0].height, duration: Number(out.format.duration) };
}

describe("ScreencastRecorder (frames encoded by Debian's ffmpeg)", function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  const scratch = (): string => {
    const dir = tempDir("screencast-");
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it("makes the video the viewport's size even when the first frame the browser paints is smaller", async () => {
    const dir = scratch();
    const source = new FrameSource();
    const recorder = await ScreencastRecorder.start(source as unknown as CDPSession, {
      width: 1280,
      height: 800,
      maxBytes: 1 << 20,
    });
    // A surface 1280×809 fitted into 1280×800 arrives as 1266×800.
    source.paint(jpeg(dir, 1266, 800, "red"), 1000.0, 1);
    source.paint(jpeg(dir, 1280, 800, "blue"), 1000.5, 2);
    source.paint(jpeg(dir, 1280, 800, "green"), 1001.0, 3);
    const out = path.join(dir, "video.mp4");
    const encoded = await recorder.encode(out, { ffmpeg: DEFAULT_FFMPEG, timeoutMs: 30_000 });
    await recorder.dispose();

    expect(encoded?.frames).to.equal(3);
    const video = probe(out);
    expect(video).to.include({ width: 1280, height: 800 });
    expect(video.duration).to.be.greaterThan(1);
    expect(source.sent.filter((m) => m === "Page.screencastFrameAck")).to.have.length(3);
  });

  it("rounds an odd viewport down to the even size H.264 needs", async () => {
    const dir = scratch();
    const source = new FrameSource();
    const recorder = await ScreencastRecorder.start(source as unknown as CDPSession, {
      width: 801,
      height: 601,
      maxBytes: 1 << 20,
    });
    source.paint(jpeg(dir, 801, 601, "red"), 1000.0, 1);
    const out = path.join(dir, "video.mp4");
    await recorder.encode(out, { ffmpeg: DEFAULT_FFMPEG, timeoutMs: 30_000 });
    await recorder.dispose();
    expect(probe(out)).to.include({ width: 800, height: 600 });
  });

  it("says no frame was painted instead of writing an empty video", async () => {
    const dir = scratch();
    const recorder = await ScreencastRecorder.start(new FrameSource() as unknown as CDPSession, {
      width: 1280,
      height: 800,
      maxBytes: 1 << 20,
    });
    expect(await recorder.encode(path.join(dir, "video.mp4"), { ffmpeg: DEFAULT_FFMPEG, timeoutMs: 30_000 })).to.equal(
      undefined,
    );
    await recorder.dispose();
  });
});
