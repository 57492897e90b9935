/**
 * The pages' own text in Simplified Chinese and English; the browser's language picks the
 * default. What a verification says (checks, verdicts, details) comes from the core's
 * wording, shared with the CLI and the API.
 */
import { langOf, type Lang } from "../../service/core/index.ts";

export type { Lang };

const en = {
  "nav.upload": "Submit evidence",
  "nav.verify": "Verify a certificate",
  "lang.switch": "中文",
  "verify.title": "Verify an evidence certificate",
  "verify.documentTitle": "Evidence Anchor — verify a certificate",
  "upload.documentTitle": "Evidence Anchor — submit evidence",
  "verify.badNode": "The chain node must be an http:// or https:// address.",
  "verify.verifying": "Verifying…",
  "verify.intro":
    "Checks a certificate against the blockchain. The original file is hashed in your browser and never uploaded.",
  "verify.certificate": "1. The certificate",
  "verify.chooseCertificate": "Choose the certificate (.evidence.json, its PDF, or a capture package .zip)",
  "verify.drop": "…or drop it here",
  "verify.paste": "…or paste its text",
  "verify.original": "2. The original file (optional)",
  "verify.chooseFile": "Choose the original file",
  "verify.sha256": "…or type its SHA-256",
  "verify.node": "3. Blockchain node (optional)",
  "verify.rpc": "JSON-RPC URL of a node of the certificate's chain; empty: this service's read-only proxy",
  "verify.run": "Verify",
  "verify.offline":
    "To verify without this page or this service: download the verifier, one file for Node.js 20 or later (node evidence-verify.mjs verify CERTIFICATE --file FILE --rpc NODE)",
  "verify.hashing": "Hashing in the browser",
  "verify.anchoredLocal": "Anchored (local time)",
  "verify.anchoredUtc": "Anchored (UTC)",
  "verify.contentHash": "Content SHA-256",
  "verify.fileName": "File name",
  "verify.chain": "Chain",
  "verify.contract": "Contract",
  "verify.tx": "Transaction",
  "verify.block": "Block",
  "verify.issuer": "Issuer",
  "verify.print": "Print",
  "verify.pdf": "Download the certificate (PDF)",
  "verify.again": "Verify another",
  "verify.checks": "Checks",
  "verify.capture": "Captured page",
  "verify.printTitle": "Blockchain Evidence Certificate — verification record",
  "verify.title.field": "Evidence title",
  "verify.sourceUrl": "Source URL",
  "verify.submittedAt": "Submitted",
  "verify.size": "Size",
  "verify.mediaType": "Media type",
  "verify.id": "Certificate number",
  "verify.chainName": "Chain name",
  "verify.timestamp": "Time-stamp",
  "verify.verifiedAt": "Verified at",
  "verify.nodeUsed": "Node read",
  "verify.fileCompared": "File compared",
  "verify.yes": "yes",
  "verify.noUnreadable": "no — the certificate could not be read, so nothing was compared with it",
  "verify.no": "no — only the certificate was checked",
  "verify.packageOnly": "no other file — the package's manifest.json was compared with the certificate",
  "verify.readingDocument": "Reading the document…",
  "verify.tsaTrust": "4. Time-stamp authorities you trust (optional): their root certificates, PEM",
  "verify.capturedAt": "Captured",
  "verify.capturedUrl": "Captured page",
  "verify.finalUrl": "Final address (after redirects)",
  "verify.httpStatus": "HTTP status",
  "verify.qr": "Scan to verify this certificate",
  "verify.noCertificate": "Choose, drop or paste a certificate first.",
  "verify.badSha256": "A SHA-256 is 64 hexadecimal characters (or the line sha256sum prints).",
  "verify.badTrust":
    "The time-stamp authorities you trust are given as PEM certificates (-----BEGIN CERTIFICATE-----): this text holds none that can be read.",
  "verify.loadFailed": "Could not load the certificate: ",
  "upload.title": "Submit evidence",
  "upload.intro":
    "Each file is hashed as it arrives, its hash is anchored on the blockchain, and you receive a certificate for it.",
  "upload.apiKey": "API key",
  "upload.useKey": "Use this key",
  "upload.keyMissing": "Enter your API key first.",
  "upload.files": "Choose files",
  "upload.drop": "…or drop files here",
  "upload.title.field": "Title (optional)",
  "upload.sourceUrl": "Source URL (optional)",
  "upload.name": "File",
  "upload.size": "Size",
  "upload.progress": "Upload",
  "upload.hash": "SHA-256 (computed in this browser)",
  "upload.status": "Status",
  "upload.certificate": "Certificate",
  "upload.download": "Download",
  "upload.verifyLink": "Verify",
  "upload.hashMatches": "matches the service",
  "upload.hashDiffers": "DIFFERS from the service",
  "upload.mine": "My evidence",
  "upload.refresh": "Refresh",
  "upload.more": "Show older evidence",
  "upload.submitted": "Submitted",
  "status.uploading": "uploading",
  "status.pending": "waiting for the next batch",
  "status.anchoring": "being anchored",
  "status.anchored": "anchored",
  "status.error": "error",
  "status.capturing": "capturing the page",
  "status.failed": "failed",
  "upload.networkError": "The service could not be reached.",
  "upload.reconnecting": "connection lost, retrying…",
  "upload.badSourceUrl": "The source URL must be an http:// or https:// address.",
  "upload.emptyFile":
    "the file is empty (0 bytes), so it was not sent: every empty file has the same hash, and a certificate for it would prove nothing.",
  "upload.filesHeading": "Files",
  "upload.pdf": "PDF",
  "upload.package": "Package",
  "capture.heading": "Capture a web page",
  "capture.intro":
    "The service opens the page in a clean browser of its own and records it as a notary would: a full-page screenshot, the page itself, its network traffic, the server's address and certificates. The record is anchored like any other evidence.",
  "capture.url": "Address of the page (http or https)",
  "capture.title": "Title (optional)",
  "capture.run": "Capture",
  "capture.queued": "Waiting for a free browser…",
  "capture.capturing": "Capturing the page…",
  "capture.pending": "Recorded; waiting for the next batch…",
  "capture.anchoring": "Being anchored…",
  "capture.anchored": "Anchored. The package and the certificate are ready.",
  "capture.failed": "The capture failed: ",
  "capture.dismiss": "Remove from the list",
} as const;

export type MessageKey = keyof typeof en;

const zh: Record<MessageKey, string> = {
  "nav.upload": "提交证据",
  "nav.verify": "验证存证证书",
  "lang.switch": "English",
  "verify.title": "验证存证证书",
  "verify.documentTitle": "Evidence Anchor — 验证存证证书",
  "upload.documentTitle": "Evidence Anchor — 提交证据",
  "verify.badNode": "区块链节点应为 http:// 或 https:// 开头的网址。",
  "verify.verifying": "正在验证……",
  "verify.intro": "对照区块链核验证书。原始文件只在您的浏览器中计算哈希，不会上传。",
  "verify.certificate": "1. 存证证书",
  "verify.chooseCertificate": "选择证书（.evidence.json、PDF 证书或网页取证包 .zip）",
  "verify.drop": "……或拖放到此处",
  "verify.paste": "……或粘贴证书内容",
  "verify.original": "2. 原始文件（可选）",
  "verify.chooseFile": "选择原始文件",
  "verify.sha256": "……或输入其 SHA-256",
  "verify.node": "3. 区块链节点（可选）",
  "verify.rpc": "证书所在链的节点 JSON-RPC 地址；留空则使用本服务的只读代理",
  "verify.run": "验证",
  "verify.offline":
    "不经本页面和本服务核验：下载验证程序，单个文件，Node.js 20 及以上即可运行（node evidence-verify.mjs verify 证书 --file 文件 --rpc 节点）",
  "verify.hashing": "正在浏览器中计算哈希",
  "verify.anchoredLocal": "上链时间（本地）",
  "verify.anchoredUtc": "上链时间（UTC）",
  "verify.contentHash": "内容 SHA-256",
  "verify.fileName": "文件名",
  "verify.chain": "链",
  "verify.contract": "合约",
  "verify.tx": "交易",
  "verify.block": "区块",
  "verify.issuer": "签发方",
  "verify.print": "打印",
  "verify.pdf": "下载存证证书（PDF）",
  "verify.again": "验证其他证书",
  "verify.checks": "检查项",
  "verify.capture": "取证网页",
  "verify.printTitle": "区块链存证证书——核验记录",
  "verify.title.field": "证据标题",
  "verify.sourceUrl": "来源网址",
  "verify.submittedAt": "提交时间",
  "verify.size": "大小",
  "verify.mediaType": "文件类型",
  "verify.id": "证书编号",
  "verify.chainName": "链名称",
  "verify.timestamp": "时间戳",
  "verify.verifiedAt": "核验时间",
  "verify.nodeUsed": "查询节点",
  "verify.fileCompared": "是否比对文件",
  "verify.yes": "是",
  "verify.noUnreadable": "否——证书无法读取，未与任何文件比对",
  "verify.no": "否——仅核验了证书",
  "verify.packageOnly": "未另外提供文件——已将取证包中的 manifest.json 与证书比对",
  "verify.readingDocument": "正在读取文件……",
  "verify.tsaTrust": "4. 您信任的时间戳机构（可选）：其根证书，PEM 格式",
  "verify.capturedAt": "取证时间",
  "verify.capturedUrl": "取证网页",
  "verify.finalUrl": "最终网址（重定向后）",
  "verify.httpStatus": "HTTP 状态码",
  "verify.qr": "扫码验证此证书",
  "verify.noCertificate": "请先选择、拖放或粘贴证书。",
  "verify.badSha256": "SHA-256 应为 64 个十六进制字符（或 sha256sum 输出的那一行）。",
  "verify.badTrust":
    "您信任的时间戳机构须以 PEM 格式的证书填写（-----BEGIN CERTIFICATE-----），所填内容中没有可读取的证书。",
  "verify.loadFailed": "无法加载证书：",
  "upload.title": "提交证据",
  "upload.intro": "每个文件在接收时计算哈希，哈希被锚定到区块链上，您将获得每个文件的存证证书。",
  "upload.apiKey": "API 密钥",
  "upload.useKey": "使用此密钥",
  "upload.keyMissing": "请先输入 API 密钥。",
  "upload.files": "选择文件",
  "upload.drop": "……或将文件拖放到此处",
  "upload.title.field": "标题（可选）",
  "upload.sourceUrl": "来源网址（可选）",
  "upload.name": "文件",
  "upload.size": "大小",
  "upload.progress": "上传",
  "upload.hash": "SHA-256（在本浏览器中计算）",
  "upload.status": "状态",
  "upload.certificate": "证书",
  "upload.download": "下载",
  "upload.verifyLink": "验证",
  "upload.hashMatches": "与服务端一致",
  "upload.hashDiffers": "与服务端不一致",
  "upload.mine": "我的存证",
  "upload.refresh": "刷新",
  "upload.more": "显示更早的存证",
  "upload.submitted": "提交时间",
  "status.uploading": "上传中",
  "status.pending": "等待下一批次",
  "status.anchoring": "正在上链",
  "status.anchored": "已上链",
  "status.error": "出错",
  "status.capturing": "正在取证",
  "status.failed": "失败",
  "upload.networkError": "无法连接到服务。",
  "upload.reconnecting": "连接中断，正在重试……",
  "upload.badSourceUrl": "来源网址应为 http:// 或 https:// 开头的网址。",
  "upload.emptyFile": "文件为空（0 字节），未上传：所有空文件的哈希值都相同，对其存证不能证明任何内容。",
  "upload.filesHeading": "文件",
  "upload.pdf": "PDF 证书",
  "upload.package": "取证包",
  "capture.heading": "网页取证",
  "capture.intro":
    "由本服务在独立、干净的浏览器中打开网页，像公证人一样完整记录：整页截图、网页本身、网络通信、服务器地址与证书。取证记录与其他证据一样上链存证。",
  "capture.url": "网页地址（http 或 https）",
  "capture.title": "标题（可选）",
  "capture.run": "开始取证",
  "capture.queued": "正在等待空闲的浏览器……",
  "capture.capturing": "正在取证……",
  "capture.pending": "已记录，等待下一批次……",
  "capture.anchoring": "正在上链……",
  "capture.anchored": "已上链。取证包与证书已可下载。",
  "capture.failed": "取证失败：",
  "capture.dismiss": "从列表中移除",
};

const messages: Record<Lang, Record<MessageKey, string>> = { en, "zh-CN": zh };
const STORAGE_KEY = "evidence-anchor.lang";

let current: Lang = initialLang();

function initialLang(): Lang {
  const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
  if (saved === "en" || saved === "zh-CN") return saved;
  return langOf(globalThis.navigator?.language);
}

export function lang(): Lang {
  return current;
}

export function t(key: MessageKey): string {
  return messages[current][key];
}

/** Fills every `data-i18n` element and sets the document language. */
export function applyLanguage(root: ParentNode = document): void {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n as MessageKey);
  }
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n-placeholder]")) {
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder as MessageKey));
  }
}

/** Wires the language button: it switches, remembers the choice and re-renders. */
export function setUpLanguageSwitch(button: HTMLButtonElement, rerender: () => void): void {
  button.addEventListener("click", () => {
    current = current === "en" ? "zh-CN" : "en";
    localStorage.setItem(STORAGE_KEY, current);
    applyLanguage();
    rerender();
  });
}

/**
 * A line of messages written in the page's language at each moment: each message is kept as
 * a function of the language, so a switch of language writes it again in the new one.
 */
export class MessageLine {
  readonly #element: HTMLElement;
  #messages: (() => string)[] = [];

  constructor(element: HTMLElement) {
    this.#element = element;
  }

  /** Shows `message` alone. */
  set(message: () => string): void {
    this.#messages = [message];
    this.render();
  }

  /** Adds `message` on a line of its own, so that no failure hides another. */
  add(message: () => string): void {
    this.#messages.push(message);
    this.render();
  }

  clear(): void {
    this.#messages = [];
    this.render();
  }

  /** Whether `message` is the one message shown. */
  shows(message: () => string): boolean {
    return this.#messages.length === 1 && this.#messages[0] === message;
  }

  render(): void {
    this.#element.replaceChildren();
    for (const [i, message] of this.#messages.entries()) {
      if (i > 0) this.#element.append(document.createElement("br"));
      this.#element.append(message());
    }
  }
}
