import { execFileSync } from "node:child_process";
import qrcode from "qrcode-generator";
import { QR_CODE_BOX } from "../../service/document/certificate-pdf.ts";

/**
 * The modules of the QR code on a certificate document's first page that differ from the
 * QR code of `url` (quiet zone included): empty when the page shows exactly that URL's code.
 * The page is rendered by poppler at 8 pixels per point and each module sampled at its centre.
 */
export function pdfQrMismatches(pdfFile: string, url: string): string[] {
  const qr = qrcode(0, "M");
  qr.addData(url, "Byte");
  qr.make();
  const count = qr.getModuleCount();
  const scale = 8;
  const image = renderGray(pdfFile, QR_CODE_BOX, scale);
  const module = (QR_CODE_BOX.size * scale) / (count + 8);
  const dark = (row: number, col: number) => image.at((col + 4.5) * module, (row + 4.5) * module) < 128;
  const wrong: string[] = [];
  for (let row = -4; row < count + 4; row++) {
    for (let col = -4; col < count + 4; col++) {
      const inside = row >= 0 && col >= 0 && row < count && col < count;
      if (dark(row, col) !== (inside && qr.isDark(row, col))) wrong.push(`${row},${col}`);
    }
  }
  return wrong;
}

/** A box of page 1 in grey levels (pdftoppm -gray), addressed in pixels from the box's top left. */
function renderGray(file: string, box: { x: number; y: number; size: number }, scale: number) {
  const pgm = execFileSync("pdftoppm", [
    "-gray",
    "-r",
    String(72 * scale),
    "-f",
    "1",
    "-l",
    "1",
    "-x",
    String(Math.round(box.x * scale)),
    "-y",
    String(Math.round(box.y * scale)),
    "-W",
    String(Math.round(box.size * scale)),
    "-H",
    String(Math.round(box.size * scale)),
    file,
  ]);
  // Binary PGM (P5): "P5 <width> <height> <maxval>" and one byte per pixel.
  const header = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(pgm.subarray(0, 64).toString("latin1"))!;
  const width = Number(header[1]);
  const pixels = pgm.subarray(header[0].length);
  const dx = box.x * scale - Math.round(box.x * scale);
  const dy = box.y * scale - Math.round(box.y * scale);
  return { at: (x: number, y: number) => pixels[Math.floor(y + dy) * width + Math.floor(x + dx)]! };
}
