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

  /** Records the frames painted, each `[width, height, colour]`, half a second apart, for a viewport of `viewport`. */
  async function record(viewport: [number, number], frames: [number, number, string][]) {
    const dir = scratch();
    const source = new FrameSource();
    const recorder = await ScreencastRecorder.start(source as unknown as CDPSession, {
      width: viewport[0],
      height: viewport[1],
      maxBytes: 1 << 20,
    });
    frames.forEach(([width, height, colour], i) => source.paint(jpeg(dir, width, height, colour), 1000 + i / 2, i + 1));
    const out = path.join(dir, "video.mp4");
    const encoded = await recorder.encode(out, { ffmpeg: DEFAULT_FFMPEG, timeoutMs: 30_000 });
    await recorder.dispose();
    return {
      encoded,
      video: encoded ? probe(out) : undefined,
      acknowledged: source.sent.filter((m) => m === "Page.screencastFrameAck").length,
    };
  }

  it("makes the video the viewport's size even when the first frame the browser paints is smaller", async () => {
    // A surface 1280×809 fitted into 1280×800 arrives as 1266×800.
    const { encoded, video, acknowledged } = await record(
      [1280, 800],
      [
        [1266, 800, "red"],
        [1280, 800, "blue"],
        [1280, 800, "green"],
      ],
    );
    expect([encoded?.frames, acknowledged]).to.deep.equal([3, 3]);
    expect(video).to.include({ width: 1280, height: 800 });
    expect(video!.duration).to.be.greaterThan(1);
  });

  it("rounds an odd viewport down to the even size H.264 needs", async () => {
    const { video } = await record([801, 601], [[801, 601, "red"]]);
    expect(video).to.include({ width: 800, height: 600 });
  });

  it("says no frame was painted instead of writing an empty video", async () => {
    const { encoded, video } = await record([1280, 800], []);
    expect([encoded, video]).to.deep.equal([undefined, undefined]);
  });
});
