/**
 * The certificate document (docs/protocol.md §10): a printable, bilingual (zh-CN / en) A4
 * page for mediators and courts that carries the JSON certificate as a PDF file attachment
 * named `<id>.evidence.json` (ISO 32000-1 §7.11.4 embedded file streams), so the document
 * itself can be verified. The printed page is a reading aid: what a verifier checks is the
 * attachment, which is the exact certificate text the service issued.
 *
 * Fonts: Noto Sans CJK SC and Noto Serif CJK SC from Debian's fonts-noto-cjk, licensed under
 * the SIL Open Font License 1.1 (/usr/share/doc/fonts-noto-cjk/copyright). OFL-1.1 permits
 * embedding the fonts (here, subsets of them) in documents, and a document that embeds them
 * is not itself under the OFL. Hex strings are set in Courier, one of the 14 standard PDF
 * fonts every reader has, so they need no file and line up column by column.
 */
import PDFDocument from "pdfkit";
import qrcode from "qrcode-generator";
import {
  canonicalize,
  claimsOf,
  codePointLabel,
  EvidenceError,
  INVISIBLE_CHARACTER,
  MEDIA_TYPE_CAPTURE,
  STANDALONE_VERIFIER_PATH,
  type Certificate,
  type CertificateClaims,
  type TimestampSummary,
} from "../core/index.ts";
import type { CaptureFacts } from "../core/capture-package.ts";

/** A step of "how to verify": its words in both languages, and a command or address to show. */
interface VerifyStep {
  zh: string;
  en: string;
  code?: string;
  link?: string;
}

/**
 * An RFC 3161 time-stamp on the root, as the verifier summarised it (a passed
 * {@link TimestampSummary} fits): the TSA's name, its time (RFC 3339), and whether it is a
 * development TSA that no court would trust.
 */
export type DocumentTimestamp = Pick<TimestampSummary, "tsa" | "time" | "development">;

export interface CertificateDocumentInput {
  /** The exact text to attach: the UTF-8 JSON of the certificate as issued. */
  certificateJson: string;
  /** The same certificate, parsed (version 1 or 2); it must be equal to `certificateJson`. */
  certificate: Certificate;
  /** The account name of the submitter. */
  applicant?: string;
  /** The configured display name of the chain. */
  chainName?: string;
  /** The embedded development chain (chain id 31337): a warning is printed. */
  developmentChain: boolean;
  /** PUBLIC_URL + /verify?id=<id>; printed and encoded in the QR code. */
  verifyUrl: string;
  serviceUrl?: string;
  timestamps?: DocumentTimestamp[];
  /** For a web capture: what its certified manifest states (the address visited, where it led, the status, when). */
  capture?: CaptureFacts;
  generatedAt: Date;
}

/** Where Debian's fonts-noto-cjk puts the fonts; `fonts` in the options overrides them. */
export const DEFAULT_FONTS = {
  sans: "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
  sansBold: "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
  serifBold: "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc",
} as const;

export interface RenderOptions {
  fonts?: typeof DEFAULT_FONTS;
}

/**
 * The longest `head…tail` of `text` (equal numbers of its user-perceived characters, never a
 * grapheme cluster split) that takes at most `lines` lines.
 */
function cutInMiddle(text: string, lines: number, linesOf: (text: string) => number): string {
  const chars = Array.from(new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text), (s) => s.segment);
  const cut = (keep: number) =>
    `${chars.slice(0, Math.ceil(keep / 2)).join("")}…${chars.slice(chars.length - Math.floor(keep / 2)).join("")}`;
  let [low, high] = [0, chars.length - 1];
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (linesOf(cut(mid)) <= lines) low = mid;
    else high = mid - 1;
  }
  return cut(low);
}

/**
 * More characters than any line of text shows: the narrowest character that prints (a space)
 * is about 2 pt wide at the sizes used. Only characters that take little or no room (combining
 * marks piled on one letter) reach it, and are then cut with an ellipsis.
 */
const MAX_CHARACTERS_PER_LINE = 500;

/** Characters measured at a time while looking for the part of a text that its lines show. */
const MEASURED_AT_ONCE = 32;

/**
 * The part of `text`, from its start or its end, that `lines` lines of `width` can show, and
 * more. pdfkit lays out a word wider than a line by measuring what is left of the word again
 * for each line it fills, so laying out a whole long text costs the square of its length (a
 * URL of 16,000 characters took more than a minute); only this part is laid out. A line holds
 * at most `width` of text, so once the part shows more than `lines + 2` lines' width, or
 * more than `lines` line breaks, the lines it fills, where they break and that the text goes
 * on past them are those of the whole text. `whole` is false when the part is shorter than
 * the text.
 */
function shownPart(
  text: string,
  from: "start" | "end",
  lines: number,
  width: number,
  show: (raw: string) => string,
  widthOf: (shown: string) => number,
): { part: string; whole: boolean } {
  const maxWidth = (lines + 2) * width;
  const maxCharacters = (lines + 2) * MAX_CHARACTERS_PER_LINE;
  let [shownWidth, breaks, characters] = [0, 0, 0];
  let at = from === "start" ? 0 : text.length;
  const more = () => (from === "start" ? at < text.length : at > 0);
  while (more() && shownWidth <= maxWidth && breaks <= lines && characters < maxCharacters) {
    const begin = at;
    // By code points, never splitting a surrogate pair.
    for (let n = 0; n < MEASURED_AT_ONCE && more(); n++, characters++) {
      if (from === "start") at += text.codePointAt(at)! > 0xffff ? 2 : 1;
      else at -= at >= 2 && text.codePointAt(at - 2)! > 0xffff ? 2 : 1;
    }
    const shown = show(from === "start" ? text.slice(begin, at) : text.slice(at, begin));
    shownWidth += widthOf(shown);
    breaks += shown.split("\n").length - 1;
  }
  const part = from === "start" ? text.slice(0, at) : text.slice(at);
  return { part, whole: part.length === text.length };
}

/** How many lines a submitter's text may take before it is cut with an ellipsis. */
const MAX_LINES = { title: 3, fileName: 2, sourceUrl: 3, note: 3 } as const;

// A4 in points (ISO 216: 210 × 297 mm).
const PAGE = { width: 595.28, height: 841.89 };
const MARGIN = 46;
const LABEL_WIDTH = 118;
const CONTENT_WIDTH = PAGE.width - 2 * MARGIN;
const VALUE_X = MARGIN + LABEL_WIDTH;
const VALUE_WIDTH = CONTENT_WIDTH - LABEL_WIDTH;

/**
 * Where the QR code of `verifyUrl` is drawn on the first page, in points from the top left,
 * its 4-module quiet zone included.
 */
export const QR_CODE_BOX = { x: MARGIN + CONTENT_WIDTH - 62, y: 30, size: 66 } as const;

const INK = "#1a1a1a";
const NAVY = "#1f3a5f";
const GREY = "#666666";
const RULE = "#c9d1dc";
const TINT = "#eef2f7";
const RED = "#b00020";

/**
 * Renders the certificate document. Given the same input it writes the same bytes: the
 * creation date is `generatedAt` and nothing else varies. Every string from the certificate
 * or the submitter is drawn as text only, never as a link, action or markup.
 */
export async function renderCertificatePdf(
  input: CertificateDocumentInput,
  options: RenderOptions = {},
): Promise<Uint8Array> {
  const view = certificateView(input);
  const fonts = options.fonts ?? DEFAULT_FONTS;
  const doc = new PDFDocument({
    size: "A4",
    margin: MARGIN,
    bufferPages: true,
    autoFirstPage: true,
    lang: "zh-CN",
    displayTitle: true,
    info: {
      Title: `区块链存证证书 Blockchain Evidence Certificate ${view.record.id}`,
      Subject: `SHA-256 ${view.record.contentHash}`,
      Author: view.issuer.name,
      Creator: "Evidence Anchor",
      Keywords: `evidence certificate; ${view.record.id}; ${view.record.contentHash}`,
      CreationDate: input.generatedAt,
      ModDate: input.generatedAt,
    },
  });
  const chunks: Uint8Array[] = [];
  doc.on("data", (chunk: Uint8Array) => chunks.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    doc.on("end", resolve);
    doc.on("error", reject);
  });

  // Each file is a collection (TTC): the name picks the Simplified Chinese face.
  doc.registerFont("sans", fonts.sans, "NotoSansCJKsc-Regular");
  doc.registerFont("sans-bold", fonts.sansBold, "NotoSansCJKsc-Bold");
  doc.registerFont("serif-bold", fonts.serifBold, "NotoSerifCJKsc-Bold");

  new Layout(doc, input, view).draw();

  const attachment: PDFKit.Mixins.PDFAttachmentOptions & { relationship: string } = {
    name: `${view.record.id}.evidence.json`,
    type: "application/json",
    description: "区块链存证证书（JSON）/ Evidence certificate (JSON): verify with `npx evidence verify`",
    creationDate: input.generatedAt,
    modifiedDate: input.generatedAt,
    hidden: false,
    // ISO 32000-2 §14.13: the page is made from this file.
    relationship: "Source",
  };
  // A string given to file() would be read as a path: hand it the bytes.
  doc.file(Buffer.from(input.certificateJson, "utf8"), attachment);
  doc.end();
  await ended;
  return Buffer.concat(chunks);
}

function certificateView(input: CertificateDocumentInput): CertificateClaims {
  let attached: unknown;
  try {
    attached = JSON.parse(input.certificateJson);
  } catch (e) {
    throw new EvidenceError("INVALID_ARGUMENT", "certificateJson is not JSON", { cause: e });
  }
  // The page must describe the very certificate it carries.
  if (canonicalize(attached as never) !== canonicalize(input.certificate as never)) {
    throw new EvidenceError("INVALID_ARGUMENT", "certificateJson and certificate are not the same certificate");
  }
  if (!(input.generatedAt instanceof Date) || Number.isNaN(input.generatedAt.getTime())) {
    throw new EvidenceError("INVALID_ARGUMENT", "generatedAt must be a valid Date");
  }
  return claimsOf(input.certificate);
}

/** The text styles of the page; `gap` is added to the font's own line height. */
const STYLES = {
  text: { font: "sans", size: 9, gap: 0, color: INK },
  strong: { font: "sans-bold", size: 9.6, gap: 0, color: INK },
  mono: { font: "Courier-Bold", size: 8.6, gap: 2.6, color: INK },
  hash: { font: "Courier-Bold", size: 9.8, gap: 2.4, color: INK },
  warning: { font: "sans-bold", size: 8.6, gap: 0, color: RED },
  small: { font: "sans", size: 8, gap: 0, color: INK },
  smallEn: { font: "sans", size: 7.2, gap: 0, color: GREY },
  code: { font: "Courier-Bold", size: 8.2, gap: 2.6, color: INK },
  link: { font: "Courier-Bold", size: 8.2, gap: 2.6, color: NAVY },
} as const;
type Style = keyof typeof STYLES;

/** One piece of a row's value, drawn below the one before. */
interface Block {
  text: string;
  style: Style;
  /** Longer text is cut with an ellipsis: the full text is in the attached certificate. */
  maxLines?: number;
  /** Keeps the submitter's line breaks (the note); elsewhere they show as [U+000A]. */
  multiline?: boolean;
  /**
   * Cut in the middle rather than at the end: a file name's end (its extension, the number of
   * a series) tells one file from another as much as its start does.
   */
  cutInMiddle?: boolean;
}

/** Where a row's first baseline sits below its top, and the space under its last line. */
const ROW_ASCENT = 10.9;
const ROW_DESCENT = 3.7;
/** The footer's top: content stops above it. */
const CONTENT_BOTTOM = PAGE.height - 54;
const SECTION_HEIGHT = 17;

/** Draws the page top to bottom; `y` is the running position. */
class Layout {
  readonly #doc: PDFKit.PDFDocument;
  readonly #input: CertificateDocumentInput;
  readonly #view: CertificateClaims;
  #y = MARGIN;
  /** Whether some text was cut to fit; the footer then says where the full text is. */
  #truncated = false;

  constructor(doc: PDFKit.PDFDocument, input: CertificateDocumentInput, view: CertificateClaims) {
    this.#doc = doc;
    this.#input = input;
    this.#view = view;
  }

  draw(): void {
    const { record, anchor, issuer } = this.#view;
    const input = this.#input;
    this.#frame();
    this.#header();
    if (input.developmentChain) this.#developmentWarning();

    let section = 0;
    this.#section(++section, "存证信息", "Evidence");
    const account = `账户 account ${record.submitter}`;
    this.#row("申请人", "Applicant", [
      {
        text: input.applicant === undefined ? account : `${input.applicant}（${account}）`,
        style: "text",
        maxLines: 2,
      },
    ]);
    this.#optionalRow("证据标题", "Title", record.title, MAX_LINES.title);
    const capture = input.capture;
    if (capture) {
      // A capture is of a page the service itself visited: what it saw, not a file handed in.
      this.#row("取证网址", "Captured URL", [{ text: capture.url, style: "text", maxLines: MAX_LINES.sourceUrl }]);
      if (capture.finalUrl !== capture.url) {
        this.#row("最终网址", "Final URL", [{ text: capture.finalUrl, style: "text", maxLines: MAX_LINES.sourceUrl }]);
      }
      if (capture.status !== undefined) {
        const error = capture.status >= 400 ? "  网站返回错误，所取证的是该错误页面 / an error page" : "";
        this.#row("HTTP 状态", "HTTP status", [{ text: `${capture.status}${error}`, style: "text", maxLines: 2 }]);
      }
      this.#row("取证时间", "Captured", [{ text: bothTimes(new Date(capture.startedAt)), style: "text" }]);
    } else if (record.fileName !== undefined && record.fileName !== "") {
      this.#row("文件名", "File name", [
        { text: record.fileName, style: "text", maxLines: MAX_LINES.fileName, cutInMiddle: true },
      ]);
    }
    const size = record.size === undefined ? undefined : formatSize(record.size);
    const mediaType = record.mediaType === "" ? undefined : record.mediaType;
    if (capture) {
      // The certified file of a capture is its manifest: said as such, not as a file of that name.
      const manifest = `manifest.json${size === undefined ? "" : `, ${size}`}`;
      this.#row("证据类型", "Evidence type", [
        { text: `网页取证 Web capture（取证清单 manifest ${manifest}）`, style: "text", maxLines: 2 },
      ]);
    } else if (size !== undefined && mediaType !== undefined) {
      this.#row("大小 / 类型", "Size, media type", [
        { text: `${size}   ·   ${mediaType}`, style: "text", maxLines: 2 },
      ]);
    } else {
      this.#optionalRow("文件大小", "Size", size, 1);
      this.#optionalRow("媒体类型", "Media type", mediaType, 2);
    }
    if (!capture) this.#optionalRow("来源网址", "Source URL", record.sourceUrl, MAX_LINES.sourceUrl);
    if (record.note !== undefined && record.note !== "") {
      this.#row("备注", "Note", [{ text: record.note, style: "text", maxLines: MAX_LINES.note, multiline: true }]);
    }
    this.#row("内容哈希", "SHA-256", [{ text: record.contentHash, style: "hash" }]);
    this.#row("提交时间", "Submitted", [{ text: bothTimes(new Date(record.submittedAt)), style: "text" }]);

    this.#section(++section, "区块链锚定", "Blockchain anchoring");
    const anchoredAt = new Date(anchor.timestamp * 1000);
    this.#row("锚定时间", "Anchored", [
      { text: `${beijingTime(anchoredAt)}  北京时间 Beijing time (UTC+8)`, style: "strong" },
      { text: `${utcTime(anchoredAt)}  协调世界时 UTC`, style: "text" },
    ]);
    const chainId = `chain id ${anchor.chainId}`;
    const chain = input.chainName === undefined ? chainId : `${input.chainName}（${chainId}）`;
    this.#row("区块链", "Chain", [{ text: chain, style: "text", maxLines: 2 }]);
    this.#row("存证合约", "Contract", [{ text: anchor.contract, style: "mono" }]);
    this.#row("交易哈希", "Transaction", [{ text: anchor.txHash, style: "mono" }]);
    this.#row("区块", "Block", [{ text: `${anchor.blockNumber}  ${anchor.blockHash}`, style: "mono" }]);
    this.#row("默克尔根", "Merkle root", [{ text: this.#view.root, style: "mono" }]);
    this.#row("签发方", "Issuer", [
      { text: issuer.name, style: "text", maxLines: 2 },
      { text: issuer.address, style: "mono" },
    ]);

    const timestamps = input.timestamps ?? [];
    if (timestamps.length > 0) {
      this.#section(++section, "第三方时间戳", "Independent time-stamps (RFC 3161)");
      for (const t of timestamps) {
        const time = new Date(t.time);
        const blocks: Block[] = [
          { text: t.tsa, style: "text", maxLines: 2 },
          { text: Number.isNaN(time.getTime()) ? t.time : bothTimes(time), style: "text", maxLines: 1 },
        ];
        if (t.development) {
          blocks.push({
            text: "开发用时间戳机构，法院不予采信 / development TSA — not trusted by courts",
            style: "warning",
          });
        }
        this.#row("时间戳机构", "TSA", blocks);
      }
    }

    this.#statements(++section);
    section++;
    this.#howToVerify(++section);
    this.#footers();
  }

  #frame(): void {
    const doc = this.#doc;
    doc.save();
    doc
      .lineWidth(1.6)
      .strokeColor(NAVY)
      .rect(18, 18, PAGE.width - 36, PAGE.height - 36)
      .stroke();
    doc
      .lineWidth(0.5)
      .rect(22.5, 22.5, PAGE.width - 45, PAGE.height - 45)
      .stroke();
    doc.restore();
  }

  #header(): void {
    const doc = this.#doc;
    const { x: qrX, y: qrTop, size: qrSize } = QR_CODE_BOX;
    drawQrCode(doc, this.#input.verifyUrl, qrX, qrTop, qrSize);
    doc.font("sans").fontSize(6.5).fillColor(GREY);
    doc.text("扫码验证 Scan to verify", qrX - 10, qrTop + qrSize - 3, { width: qrSize + 20, align: "center" });
    this.#y = MARGIN - 6;

    doc.font("serif-bold").fontSize(24).fillColor(NAVY);
    doc.text("区块链存证证书", MARGIN, this.#y, { width: CONTENT_WIDTH, align: "center", characterSpacing: 3 });
    doc.font("serif-bold").fontSize(11.5);
    doc.text("BLOCKCHAIN EVIDENCE CERTIFICATE", MARGIN, doc.y + 1, {
      width: CONTENT_WIDTH,
      align: "center",
      characterSpacing: 1.4,
    });
    this.#y = doc.y + 6;
    const ruleX = MARGIN + CONTENT_WIDTH * 0.22;
    doc.lineWidth(0.8).strokeColor(NAVY);
    doc
      .moveTo(ruleX, this.#y)
      .lineTo(PAGE.width - ruleX, this.#y)
      .stroke();
    doc.font("sans").fontSize(9.5).fillColor(INK);
    const number = `证书编号 Certificate No.  ${this.#view.record.id}`;
    doc.text(number, MARGIN, this.#y + 6, { width: CONTENT_WIDTH, align: "center" });
    this.#y = Math.max(doc.y, qrTop + qrSize + 6) + 6;
  }

  #developmentWarning(): void {
    const doc = this.#doc;
    const zh = "开发链：运营方可改写，仅供试用，不具证据效力";
    const en =
      "Development chain: its operator can rewrite it; for trying the service only. This certificate is not evidence.";
    const padding = 6;
    const width = CONTENT_WIDTH - 2 * padding;
    doc.font("sans-bold").fontSize(11);
    const zhHeight = doc.heightOfString(zh, { width, align: "center" });
    doc.font("sans").fontSize(8.5);
    const enHeight = doc.heightOfString(en, { width, align: "center" });
    const height = zhHeight + enHeight + 2 * padding;
    doc.save();
    doc.lineWidth(1.4).strokeColor(RED).fillColor("#fdecee");
    doc.rect(MARGIN, this.#y, CONTENT_WIDTH, height).fillAndStroke();
    doc.restore();
    doc.font("sans-bold").fontSize(11).fillColor(RED);
    doc.text(zh, MARGIN + padding, this.#y + padding, { width, align: "center" });
    doc.font("sans").fontSize(8.5).fillColor(RED);
    doc.text(en, MARGIN + padding, doc.y, { width, align: "center" });
    this.#y += height + 7;
  }

  /** A section heading, kept on one page with the first `following` points of its content. */
  #section(number: number, zh: string, en: string, following = 24): void {
    this.#ensureSpace(SECTION_HEIGHT + following);
    this.#sectionBar(MARGIN, CONTENT_WIDTH, number, zh, en);
    this.#y += SECTION_HEIGHT;
  }

  #sectionBar(x: number, width: number, number: number, zh: string, en: string): void {
    const doc = this.#doc;
    const height = SECTION_HEIGHT - 2;
    doc.save().fillColor(TINT).rect(x, this.#y, width, height).fill();
    doc.fillColor(NAVY).rect(x, this.#y, 3, height).fill().restore();
    const baseline = this.#y + 11;
    doc.font("sans-bold").fontSize(9.5).fillColor(NAVY);
    const title = `${CHINESE_NUMERALS[number] ?? number}、${zh}`;
    doc.text(title, x + 9, baseline, { baseline: "alphabetic", lineBreak: false });
    const enX = x + 9 + doc.widthOfString(title) + 8;
    doc.font("sans").fontSize(8.5).text(en, enX, baseline, { baseline: "alphabetic", lineBreak: false });
  }

  #optionalRow(zh: string, en: string, value: string | undefined, maxLines: number): void {
    if (value !== undefined && value !== "") this.#row(zh, en, [{ text: value, style: "text", maxLines }]);
  }

  /** A labelled row; its value blocks are measured first so that a row never splits across pages. */
  #row(zh: string, en: string, blocks: Block[]): void {
    const doc = this.#doc;
    const measured = blocks.map((block) => this.#measure(block));
    let height = ROW_ASCENT + ROW_DESCENT;
    measured.forEach((m, i) => {
      height += (m.lines - 1) * m.pitch + (i > 0 ? m.pitch : 0);
    });
    this.#ensureSpace(height + 2);
    const top = this.#y;

    let baseline = top + ROW_ASCENT;
    doc.font("sans-bold").fontSize(8.4).fillColor(INK);
    doc.text(zh, MARGIN + 4, baseline, { baseline: "alphabetic", lineBreak: false });
    const enX = MARGIN + 4 + doc.widthOfString(zh) + 4;
    doc.font("sans").fontSize(6.8).fillColor(GREY);
    doc.text(en, enX, baseline, { baseline: "alphabetic", lineBreak: false });

    measured.forEach((m, i) => {
      if (i > 0) baseline += m.pitch;
      this.#setStyle(m.block.style);
      doc.text(m.text, VALUE_X, baseline, {
        baseline: "alphabetic",
        width: VALUE_WIDTH,
        lineGap: STYLES[m.block.style].gap,
        // Enough for `lines` lines and not one more (pdfkit stops when the next line's
        // top plus the font's line height passes this).
        height: (m.lines - 1) * m.pitch + doc.currentLineHeight(true) + 0.01,
        ellipsis: "…",
      });
      baseline += (m.lines - 1) * m.pitch;
    });

    this.#y = top + height;
    doc.save().lineWidth(0.4).strokeColor(RULE);
    doc
      .moveTo(MARGIN, this.#y)
      .lineTo(MARGIN + CONTENT_WIDTH, this.#y)
      .stroke();
    doc.restore();
    this.#y += 0.5;
  }

  #measure(block: Block): { block: Block; text: string; lines: number; pitch: number } {
    const doc = this.#doc;
    this.#setStyle(block.style);
    const mono = STYLES[block.style].font === "Courier-Bold";
    const show = (raw: string) => (mono ? raw : visible(doc, raw, block.multiline === true));
    const { gap } = STYLES[block.style];
    const pitch = doc.currentLineHeight(true) + gap;
    const linesOf = (t: string) => Math.round(doc.heightOfString(t, { width: VALUE_WIDTH, lineGap: gap }) / pitch);
    const maxLines = block.maxLines ?? 4;
    const widthOf = (shown: string) => doc.widthOfString(shown);
    const start = shownPart(block.text, "start", maxLines, VALUE_WIDTH, show, widthOf);
    let text = show(start.part);
    let full = linesOf(text);
    // A part cut for its number of characters alone may fit: the ellipsis says that more follows.
    if (!start.whole && full <= maxLines) {
      text += "…";
      full = linesOf(text);
    }
    const lines = Math.max(1, Math.min(full, maxLines));
    const cut = lines < full || !start.whole;
    if (cut) this.#truncated = true;
    if (cut && block.cutInMiddle) {
      // Both ends of a long text, which is all that a cut in the middle can show.
      const end = shownPart(block.text, "end", maxLines, VALUE_WIDTH, show, widthOf);
      const ends = start.part.length + end.part.length < block.text.length ? start.part + end.part : block.text;
      // Cut the text as given, then show it: a cut never splits a [U+XXXX] label.
      return { block, text: show(cutInMiddle(ends, lines, (raw) => linesOf(show(raw)))), lines, pitch };
    }
    return { block, text, lines, pitch };
  }

  #setStyle(style: Style): void {
    const { font, size, color } = STYLES[style];
    this.#doc.font(font).fontSize(size).fillColor(color);
  }

  /** What the certificate proves and what it does not, side by side. */
  #statements(number: number): void {
    const { record } = this.#view;
    const proves: [string, string][] = [
      [
        "一个 SHA-256 值等于上述内容哈希的文件，不晚于锚定时间已经存在。",
        "A file whose SHA-256 is the content hash above existed no later than the anchoring time.",
      ],
      [
        "上述记录（文件名、标题等）自锚定以来未被改动。",
        "The record above (file name, title and the rest) has not changed since it was anchored.",
      ],
      ["该记录由上述签发方在所示区块链上锚定。", "The issuer named above anchored it on the chain shown."],
    ];
    const doesNot: [string, string][] = [
      ["谁创作了该文件，或谁享有其权利。", "Who made the file or who holds rights in it."],
      ["文件内容真实、合法或完整。", "That the content is true, lawful or complete."],
      [
        "标题、来源网址等描述属实：由申请人提供，本服务未核实。",
        "That the title, source URL and other details are accurate: the applicant supplied them, unchecked.",
      ],
      ["文件在锚定之前已存在多久。", "How long before the anchoring time the file existed."],
    ];
    if (this.#input.capture) {
      // The service visited the page itself; what it cannot say is what others were shown.
      doesNot[2] = [
        "网页在其他时间或对其他访问者显示相同内容；标题由申请人提供，本服务未核实。",
        "That the page showed the same to others or at other times; the title, which the applicant supplied.",
      ];
    } else if (record.sourceUrl === undefined && record.title === undefined) doesNot.splice(2, 1);
    const gap = 12;
    const columnWidth = (CONTENT_WIDTH - gap) / 2;
    const columns = [
      { x: MARGIN, width: columnWidth, zh: "本证书证明", en: "What this certificate proves", items: proves },
      {
        x: MARGIN + columnWidth + gap,
        width: columnWidth,
        zh: "本证书不证明",
        en: "What it does not prove",
        items: doesNot,
      },
    ];
    const height = Math.max(...columns.map((c) => this.#paragraphsHeight(c.items, c.width - 4)));
    this.#ensureSpace(SECTION_HEIGHT + height);
    columns.forEach((c, i) => this.#sectionBar(c.x, c.width, number + i, c.zh, c.en));
    this.#y += SECTION_HEIGHT;
    const bottoms = columns.map((c) => {
      let y = this.#y + 9;
      c.items.forEach(([zh, en], i) => {
        y = this.#paragraph(`${i + 1}. ${zh}`, en, c.x + 4, y, c.width - 4) + 2;
      });
      return y;
    });
    this.#y = Math.max(...bottoms) - 8;
  }

  /**
   * A Chinese sentence and its English in smaller grey type, run on in one paragraph whose
   * first baseline is `baseline`; returns the baseline the next line would take.
   */
  #paragraph(zh: string, en: string, x: number, baseline: number, width: number): number {
    const doc = this.#doc;
    this.#setStyle("small");
    doc.text(`${zh} `, x, baseline, { baseline: "alphabetic", width, continued: true });
    this.#setStyle("smallEn");
    doc.text(en, { baseline: "alphabetic" });
    return doc.y;
  }

  /**
   * The height of run-on paragraphs (see {@link #paragraph}), estimated from the width of
   * their text with 6% to spare for word wrapping; used to keep a block on one page.
   */
  #paragraphsHeight(items: [string, string][], width: number): number {
    const doc = this.#doc;
    return items.reduce((sum, [zh, en]) => {
      this.#setStyle("smallEn");
      const enWidth = doc.widthOfString(en);
      this.#setStyle("small");
      const lines = Math.ceil(((doc.widthOfString(`0. ${zh} `) + enWidth) * 1.06) / width);
      return sum + lines * doc.currentLineHeight(true) + 2;
    }, 0);
  }

  #howToVerify(number: number): void {
    const { record } = this.#view;
    const input = this.#input;
    // A web capture is verified from its package (ZIP), which holds this certificate and the
    // files of the capture; its manifest.json is the certified file.
    const capture = record.mediaType === MEDIA_TYPE_CAPTURE;
    const verifierUrl = new URL(STANDALONE_VERIFIER_PATH, input.serviceUrl ?? input.verifyUrl).href;
    const steps: VerifyStep[] = [
      {
        zh: `1. 在线：打开下列网址或扫描右上角二维码，提交${capture ? "网页取证包（ZIP）" : "本 PDF 和原始文件"}。`,
        en: `Online: this address or the QR code, with ${capture ? "the capture package (ZIP)" : "this PDF and the original file"}.`,
        code: input.verifyUrl,
        link: input.verifyUrl,
      },
      {
        zh: "2. 命令行（Node.js 20+）：下载验证程序，不经本服务，直接读取区块链节点；<registry> 请取自联盟公布的存证合约地址，勿照抄本页。",
        en: "Command line: no service, only a chain node; take <registry> from the consortium's published list, not from this page.",
        code: [
          verifierUrl,
          capture
            ? `node evidence-verify.mjs verify ${record.id}.zip --rpc <node URL> --contract <registry>`
            : `node evidence-verify.mjs verify ${record.id}.pdf --file <original file> --rpc <node URL> --contract <registry>`,
        ].join("\n"),
        link: verifierUrl,
      },
      capture
        ? {
            zh:
              "3. 取证包内含本证书 certificate.evidence.json 与取证文件；存证的文件是其中的 manifest.json，" +
              "其 SHA-256 即上述内容哈希，manifest.json 列出其余每个文件的 SHA-256。",
            en:
              "The package holds this certificate as certificate.evidence.json and the capture's files. The certified " +
              "file is its manifest.json, whose SHA-256 is the content hash above; it lists every other file's SHA-256.",
          }
        : {
            zh:
              `3. 验证以本 PDF 内嵌的证书附件 ${record.id}.evidence.json 为准，本页仅供阅读；` +
              "文件的 SHA-256（sha256sum 或 certutil -hashfile <文件> SHA256）应等于上述内容哈希。",
            en:
              `Verification rests on the attached ${record.id}.evidence.json, not on this page. ` +
              "The file's SHA-256 (sha256sum, certutil -hashfile) must equal the content hash.",
          },
    ];
    this.#drawSteps(number, steps, MARGIN + 4, CONTENT_WIDTH - 8);
  }

  #drawSteps(number: number, steps: VerifyStep[], x: number, width: number): void {
    const doc = this.#doc;
    // Each line of code on one line, its type made smaller where it is too long: a command
    // broken across lines breaks when it is copied from the page into a terminal.
    const codeSize = (line: string): number => {
      this.#setStyle("code");
      return Math.min(STYLES.code.size, (STYLES.code.size * (width - 10)) / doc.widthOfString(line));
    };
    const codeHeight = (code: string): number => {
      return code.split("\n").reduce((sum, line) => {
        this.#setStyle("code");
        doc.fontSize(codeSize(line));
        return sum + doc.currentLineHeight(true) + STYLES.code.gap;
      }, 0);
    };
    const height = steps.reduce(
      (sum, s) =>
        sum + this.#paragraphsHeight([[s.zh, s.en]], width) + (s.code === undefined ? 0 : codeHeight(s.code) + 2),
      0,
    );
    this.#section(number, "如何验证", "How to verify", height);
    let baseline = this.#y + 10;
    for (const step of steps) {
      baseline = this.#paragraph(step.zh, step.en, x, baseline, width);
      if (step.code !== undefined) {
        let y = baseline - 1;
        step.code.split("\n").forEach((line, i) => {
          const size = codeSize(line);
          // The first line is the link (the verification address: the service's own, never a submitter's text).
          const link = i === 0 ? step.link : undefined;
          this.#setStyle(link === undefined ? "code" : "link");
          doc.fontSize(size);
          doc.text(line, x + 10, y, {
            baseline: "alphabetic",
            width: width - 10,
            lineBreak: false,
            ...(link === undefined ? {} : { link }),
          });
          y += doc.currentLineHeight(true) + STYLES.code.gap;
        });
        baseline = y + 1;
      }
      baseline += 2;
    }
    this.#y = baseline - 8;
  }

  /** Footer on every page: when the document was made, the issuing service, page numbers. */
  #footers(): void {
    const doc = this.#doc;
    const { start, count } = doc.bufferedPageRange();
    const input = this.#input;
    // Each line fits the width whole (a line too long is cut with an ellipsis).
    const issued = beijingTime(new Date(this.#view.issuedAt));
    const generated = beijingTime(input.generatedAt);
    const lines = [
      [
        // The service makes a document at the certificate's own time: one line says it once.
        ...(generated === issued ? [] : [`生成时间 Generated ${generated} (UTC+8)`]),
        `证书签发 Certificate issued ${issued} (UTC+8)`,
      ].join("   ·   "),
      [
        `证书格式 Certificate version ${this.#view.version}`,
        "Evidence Anchor",
        ...(input.serviceUrl === undefined ? [] : [input.serviceUrl]),
      ].join("   ·   "),
      ...(this.#truncated
        ? ["“…” 处已截断，全文见所附证书 / “…”: cut short, full text in the attached certificate"]
        : []),
    ];
    for (let i = start; i < start + count; i++) {
      doc.switchToPage(i);
      // Text below the bottom margin would otherwise start a new page.
      const bottom = doc.page.margins.bottom;
      doc.page.margins.bottom = 0;
      doc.font("sans").fontSize(6.8).fillColor(GREY);
      lines.forEach((line, n) => {
        doc.text(line, MARGIN, PAGE.height - 40 + n * 9, {
          baseline: "alphabetic",
          width: CONTENT_WIDTH - 40,
          height: 9,
          ellipsis: "…",
        });
      });
      if (count > 1) {
        doc.text(`${i - start + 1} / ${count}`, MARGIN + CONTENT_WIDTH - 40, PAGE.height - 31, {
          baseline: "alphabetic",
          width: 40,
          align: "right",
          lineBreak: false,
        });
      }
      doc.page.margins.bottom = bottom;
    }
  }

  /** Starts a new page when fewer than `needed` points are left above the footer. */
  #ensureSpace(needed: number): void {
    if (this.#y + needed <= CONTENT_BOTTOM) return;
    this.#doc.addPage();
    this.#frame();
    this.#y = MARGIN;
  }
}

const CHINESE_NUMERALS = ["〇", "一", "二", "三", "四", "五", "六", "七", "八", "九"];

/**
 * The text as a reader should see it: characters that print as nothing or as something
 * else (controls, bidirectional overrides, zero-width and private-use characters) and
 * characters the font has no glyph for are written as [U+XXXX], so nothing in a file name
 * or title is hidden or silently dropped.
 */
function visible(doc: PDFKit.PDFDocument, text: string, multiline: boolean): string {
  const font = (doc as unknown as { _font?: { font?: { hasGlyphForCodePoint?(cp: number): boolean } } })._font?.font;
  let out = "";
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    if (char === "\n" && multiline) out += "\n";
    else if (char === " ") out += " ";
    else if (INVISIBLE_CHARACTER.test(char) || font?.hasGlyphForCodePoint?.(cp) === false) out += codePointLabel(char);
    else out += char;
  }
  return out;
}

/**
 * China Standard Time is UTC+8 all year (no daylight saving since 1991), so the local time
 * is the UTC time plus eight hours; no time zone database is consulted.
 */
function beijingTime(time: Date): string {
  return dateTime(new Date(time.getTime() + 8 * 3600_000));
}

/** One line: Beijing time, then UTC. */
function bothTimes(time: Date): string {
  return `${beijingTime(time)} 北京时间 (UTC+8)   ${utcTime(time)} UTC`;
}

function utcTime(time: Date): string {
  return dateTime(time);
}

/** `YYYY-MM-DD HH:MM:SS` (with `.mmm` when the time has milliseconds), read in UTC. */
function dateTime(time: Date): string {
  const iso = time.toISOString();
  const seconds = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  return time.getUTCMilliseconds() === 0 ? seconds : `${seconds}.${iso.slice(20, 23)}`;
}

function formatSize(size: number): string {
  const exact = `${size.toLocaleString("en-US")} 字节 bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = size;
  let unit = "";
  for (const u of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return unit === "" ? exact : `${exact} (${value.toFixed(value < 10 ? 2 : 1)} ${unit})`;
}

/**
 * Draws a QR code (ISO/IEC 18004, error correction level M) of `text` as filled squares,
 * with the 4-module quiet zone the standard asks for inside `size`.
 */
function drawQrCode(doc: PDFKit.PDFDocument, text: string, x: number, y: number, size: number): void {
  const qr = qrcode(0, "M");
  // qrcode-generator encodes each UTF-16 unit as one byte: hand it the UTF-8 bytes.
  qr.addData(String.fromCharCode(...new TextEncoder().encode(text)), "Byte");
  qr.make();
  const count = qr.getModuleCount();
  const module = size / (count + 8);
  doc.save();
  doc.fillColor("#000000");
  for (let row = 0; row < count; row++) {
    // One rectangle per run of dark modules in the row keeps the page small.
    for (let col = 0; col < count;) {
      if (!qr.isDark(row, col)) {
        col++;
        continue;
      }
      const start = col;
      while (col < count && qr.isDark(row, col)) col++;
      doc.rect(x + (start + 4) * module, y + (row + 4) * module, (col - start) * module, module);
    }
  }
  doc.fill();
  doc.restore();
}
