import {
  CERTIFICATE_WITH_STATEMENTS,
  isOfTheCertificate,
  NOT_A_CERTIFICATE_DOCUMENT,
  UNREADABLE_DOCUMENT,
  WRONG_FILE_MESSAGES,
} from "./checks.ts";
import { NO_CERTIFICATE_ATTACHED } from "../pdf-attachment.ts";
import type {
  CaptureSummary,
  Check,
  CheckId,
  CheckStatus,
  Reason,
  ReasonCode,
  TimestampSummary,
  Verdict,
  VerificationResult,
  Warning,
} from "./checks.ts";
import { SERVICE_NODE_LABEL } from "../chain-reader.ts";
import type { TimestampDetailCode } from "../timestamp.ts";
import { MAX_DOCUMENT_BYTES } from "../limits.ts";

/**
 * The words of a verification, in Simplified Chinese and English, defined once: the CLI,
 * the HTTP API and the pages all speak through these. For each check a sentence for
 * passed, failed, could-not-check and skipped; for each reason a detail; times as dates in
 * UTC and local time, never Unix seconds.
 */
export type Lang = "zh-CN" | "en";

export const LANGS: readonly Lang[] = ["zh-CN", "en"];

/** `zh`, `zh-CN`, `zh_CN.UTF-8`, `zh-Hans` … → zh-CN; anything else → en. */
export function langOf(tag: string | undefined | null): Lang {
  return tag && /^zh/i.test(tag.trim()) ? "zh-CN" : "en";
}

type Words = Record<Lang, string>;

export const CHECK_NAMES: Record<CheckId, Words> = {
  package: { en: "Capture package", "zh-CN": "取证包" },
  format: { en: "Format", "zh-CN": "格式" },
  content: { en: "File", "zh-CN": "文件" },
  leaf: { en: "Record", "zh-CN": "记录" },
  inclusion: { en: "Merkle proof", "zh-CN": "默克尔证明" },
  anchor: { en: "Blockchain anchor", "zh-CN": "区块链锚定" },
  signature: { en: "Issuer signature", "zh-CN": "签发方签名" },
  timestamp: { en: "Time-stamps", "zh-CN": "时间戳" },
};

export const STATUS_NAMES: Record<CheckStatus, Words> = {
  passed: { en: "PASS", "zh-CN": "通过" },
  failed: { en: "FAIL", "zh-CN": "未通过" },
  skipped: { en: "SKIP", "zh-CN": "未检查" },
  error: { en: "COULD NOT CHECK", "zh-CN": "无法检查" },
};

/** What each check establishes when it passes, what its failure means, and what an error means. */
export const CHECK_SENTENCES: Record<CheckId, Record<CheckStatus, Words>> = {
  package: {
    passed: {
      en: "Every file of the capture is exactly as its manifest lists it.",
      "zh-CN": "取证包中的每个文件都与清单所列完全一致。",
    },
    failed: {
      en: "Files of the capture were altered, removed or added after it was recorded.",
      "zh-CN": "取证包中的文件在取证后被改动、删除或增加。",
    },
    error: { en: "The capture package could not be read.", "zh-CN": "无法读取取证包。" },
    skipped: { en: "Not a capture package.", "zh-CN": "不是取证包。" },
  },
  format: {
    passed: { en: "The certificate is complete and well-formed.", "zh-CN": "证书完整，格式正确。" },
    failed: { en: "The certificate is malformed or incomplete.", "zh-CN": "证书格式不正确或不完整。" },
    error: { en: "The certificate could not be read.", "zh-CN": "无法读取证书。" },
    skipped: { en: "The format was not checked.", "zh-CN": "未检查格式。" },
  },
  content: {
    passed: {
      en: "The file you supplied is exactly the certified file (same SHA-256).",
      "zh-CN": "您提供的文件与存证文件完全一致（SHA-256 相同）。",
    },
    failed: {
      en: "The file you supplied is NOT the certified file: its SHA-256 differs.",
      "zh-CN": "您提供的文件不是存证文件：两者的 SHA-256 不同。",
    },
    error: { en: "The file could not be compared.", "zh-CN": "无法比对文件。" },
    skipped: {
      en: "No file was supplied, so the file itself was not compared.",
      "zh-CN": "未提供原始文件，因此未比对文件本身。",
    },
  },
  leaf: {
    passed: {
      en: "The certified record (hash, submitter, time, names) is what the proof commits to.",
      "zh-CN": "证书中的存证记录（哈希、提交者、时间、名称）与证明所承诺的内容一致。",
    },
    failed: {
      en: "The record in the certificate is not what the proof commits to: it was changed.",
      "zh-CN": "证书中的存证记录与证明所承诺的内容不一致：记录已被改动。",
    },
    error: { en: "The record could not be checked.", "zh-CN": "无法检查存证记录。" },
    skipped: { en: "The record was not checked.", "zh-CN": "未检查存证记录。" },
  },
  inclusion: {
    passed: {
      en: "The record is a leaf of the Merkle tree whose root the certificate states.",
      "zh-CN": "该记录是证书所述树根对应的默克尔树中的一个叶子。",
    },
    failed: {
      en: "The proof does not lead from the record to the root the certificate states.",
      "zh-CN": "包含证明无法从该记录推导出证书所述的树根。",
    },
    error: { en: "The proof could not be checked.", "zh-CN": "无法检查包含证明。" },
    skipped: { en: "The proof was not checked.", "zh-CN": "未检查包含证明。" },
  },
  anchor: {
    passed: {
      en: "The root is on the blockchain in the stated block, transaction and time, anchored by the issuer.",
      "zh-CN": "该树根已记录在区块链上，区块、交易和时间与证书所述一致，且由签发方上链。",
    },
    failed: {
      en: "The blockchain contradicts the anchor the certificate states.",
      "zh-CN": "区块链上的记录与证书所述的上链信息相矛盾。",
    },
    error: {
      en: "The blockchain could not be read, so the anchor is unconfirmed. This is not evidence against the certificate.",
      "zh-CN": "无法读取区块链，上链信息尚未核实。这并不表明证书有问题。",
    },
    skipped: { en: "The anchor was not checked.", "zh-CN": "未检查上链信息。" },
  },
  signature: {
    passed: {
      en: "The certificate was issued, unaltered, by the issuer it names.",
      "zh-CN": "证书由其所载签发方签发，且未被篡改。",
    },
    failed: {
      en: "The signature is not the named issuer's: the certificate was altered or forged.",
      "zh-CN": "签名与证书所载签发方不符：证书被改动或伪造。",
    },
    error: { en: "The signature could not be checked.", "zh-CN": "无法检查签名。" },
    skipped: { en: "The signature was not checked.", "zh-CN": "未检查签名。" },
  },
  timestamp: {
    passed: {
      en: "Independent time-stamp authorities confirm that the root existed at their time.",
      "zh-CN": "独立的时间戳机构确认该树根在其所载时间已经存在。",
    },
    failed: {
      en: "A time-stamp token is invalid: it was altered, or it stamps other data.",
      "zh-CN": "时间戳令牌无效：已被改动，或并非针对本证书的数据。",
    },
    error: {
      en: "A time-stamp token could not be checked: its authority is not on the trust list.",
      "zh-CN": "时间戳令牌无法核验：其签发机构不在信任列表中。",
    },
    skipped: { en: "The certificate carries no time-stamp token.", "zh-CN": "证书未附时间戳令牌。" },
  },
};

export interface TimeText {
  utc: string;
  local: string;
  /** Local time, then UTC ("… / … UTC"); UTC alone where the local time is UTC, not the same time twice. */
  both: string;
  /** The local time is UTC (offset +00:00). */
  isUtc: boolean;
}

/** One formatter per time zone: making one costs far more than formatting with it (a bulk run formats thousands). */
const localFormats = new Map<string | undefined, Intl.DateTimeFormat>();

function localFormat(timeZone: string | undefined): Intl.DateTimeFormat {
  let format = localFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
      timeZoneName: "longOffset",
    });
    if (localFormats.size >= 16) localFormats.clear();
    localFormats.set(timeZone, format);
  }
  return format;
}

/**
 * A moment as a date in UTC and in local time (the reader's time zone unless given). The
 * reader's own zone is read from the Date itself: the first Intl formatter with a time zone
 * costs tens of milliseconds (time-zone data), a visible part of one verification.
 */
export function timeText(when: Date | number, lang: Lang, timeZone?: string): TimeText {
  const date = typeof when === "number" ? new Date(when * 1000) : when;
  const utc = `${date
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d{3}Z$/, "")} UTC`;
  const { fields, offset } = timeZone === undefined ? readerFields(date) : zoneFields(date, timeZone);
  const zone = lang === "zh-CN" ? `（${offset}）` : ` (${offset})`;
  const [year, month, day, hour, minute, second] = fields;
  const local = `${year}-${month}-${day} ${hour}:${minute}:${second}${zone}`;
  const isUtc = offset === "UTC+00:00" || offset === "UTC";
  return { utc, local, both: isUtc ? utc : `${local} / ${utc}`, isUtc };
}

type LocalFields = { fields: string[]; offset: string };

function zoneFields(date: Date, timeZone: string): LocalFields {
  const parts = localFormat(timeZone).formatToParts(date);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return {
    fields: ["year", "month", "day", "hour", "minute", "second"].map(get),
    offset: get("timeZoneName").replace("GMT", "UTC") || "UTC",
  };
}

/** The same fields in the reader's zone, with the offset as Intl's "longOffset" gives it: UTC+00:00, UTC+08:00, UTC-03:30. */
function readerFields(date: Date): LocalFields {
  const two = (n: number) => String(n).padStart(2, "0");
  const east = -date.getTimezoneOffset();
  const abs = Math.abs(east);
  return {
    fields: [
      String(date.getFullYear()),
      two(date.getMonth() + 1),
      two(date.getDate()),
      two(date.getHours()),
      two(date.getMinutes()),
      two(date.getSeconds()),
    ],
    offset: `UTC${east >= 0 ? "+" : "-"}${two(Math.floor(abs / 60))}:${two(abs % 60)}`,
  };
}

function at(seconds: number, lang: Lang): string {
  const t = timeText(seconds, lang);
  if (t.isUtc) return t.utc;
  return lang === "zh-CN" ? `${t.local}，即 ${t.utc}` : `${t.local}, i.e. ${t.utc}`;
}

type Detail<C extends ReasonCode> = (r: Extract<Reason, { code: C }>, lang: Lang) => string;
const both =
  <C extends ReasonCode>(
    en: (r: Extract<Reason, { code: C }>) => string,
    zh: (r: Extract<Reason, { code: C }>) => string,
  ): Detail<C> =>
  (r, lang) =>
    lang === "zh-CN" ? zh(r) : en(r);

/** The detail of each reason: what was compared, or what went wrong, with its values. */
const DETAILS: { [C in ReasonCode]: Detail<C> } = {
  "format.ok": both(
    (r) => `a well-formed version ${r.version} certificate`,
    (r) => `格式正确的第 ${r.version} 版证书`,
  ),
  "format.malformed": both(
    (r) => r.message,
    (r) => {
      const beside = besideText(r.message, "zh-CN");
      return beside === undefined
        ? `格式错误：${inChinese(r.message, FORMAT_PHRASES_ZH, "证书无法解析")}`
        : `格式错误：JSON 文件在证书之外另有证书未涵盖的陈述：${beside}`;
    },
  ),
  "format.no-certificate-yet": both(
    () => "the capture package holds no certificate yet: it is issued once the capture is anchored",
    () => "网页取证包中还没有证书：取证内容上链后才签发证书",
  ),
  "format.unreadable": both(
    (r) => `the file cannot be read: ${r.message}`,
    (r) => `无法读取文件：${inChinese(r.message, UNREADABLE_PHRASES_ZH, "读取出错")}`,
  ),
  "format.unsupported-document": both(
    (r) => `the PDF is in a form this verifier does not read: ${r.message}`,
    (r) => `该 PDF 使用了本验证程序不读取的形式：${inChinese(r.message, UNSUPPORTED_PHRASES_ZH, "不支持的 PDF 形式")}`,
  ),
  "format.not-checked": both(
    () => "not checked",
    () => "未检查",
  ),
  "content.match": both(
    (r) =>
      r.given
        ? `the SHA-256 given, ${r.digest}, equals the certified content hash (no file was read)`
        : `the file's SHA-256 ${r.digest} equals the certified content hash`,
    (r) =>
      r.given
        ? `所给的 SHA-256 ${r.digest} 与存证内容哈希相同（未读取任何文件）`
        : `文件的 SHA-256 ${r.digest} 与存证内容哈希相同`,
  ),
  "content.mismatch": both(
    (r) =>
      r.given
        ? `the SHA-256 given, ${r.digest}, differs from the certified ${r.certified}`
        : `the file's SHA-256 ${r.digest} differs from the certified ${r.certified}`,
    (r) =>
      r.given
        ? `所给的 SHA-256 为 ${r.digest}，存证内容哈希为 ${r.certified}，两者不同`
        : `文件的 SHA-256 为 ${r.digest}，存证内容哈希为 ${r.certified}，两者不同`,
  ),
  "content.bad-digest": both(
    () => "the supplied SHA-256 is not 64 hexadecimal characters",
    () => "所提供的 SHA-256 不是 64 个十六进制字符",
  ),
  "content.no-file": both(
    () => "no file was supplied",
    () => "未提供文件",
  ),
  "content.package": both(
    (r) => `the package's manifest.json has the SHA-256 ${r.digest}, the certified content hash`,
    (r) => `取证包中 manifest.json 的 SHA-256 ${r.digest} 与存证内容哈希相同`,
  ),
  "content.package-mismatch": both(
    (r) => `the package's manifest.json has the SHA-256 ${r.digest}, not the certified ${r.certified}`,
    (r) => `取证包中 manifest.json 的 SHA-256 为 ${r.digest}，存证内容哈希为 ${r.certified}，两者不同`,
  ),
  "content.package-file": both(
    (r) => `the file's SHA-256 ${r.digest} is that of ${r.name} in the certified manifest`,
    (r) => `文件的 SHA-256 ${r.digest} 与存证清单中 ${r.name} 的相同`,
  ),
  "content.not-in-package": both(
    (r) => `the file's SHA-256 ${r.digest} is neither the manifest's nor that of any file it lists`,
    (r) => `文件的 SHA-256 ${r.digest} 既不是清单本身的，也不是清单所列任何文件的`,
  ),
  "content.package-unread": both(
    (r) =>
      `the file is a ZIP of ${mebibytes(r.size)} MiB, more than this verifier reads as a capture package (${MAX_DOCUMENT_BYTES / 1024 / 1024} MiB): verify the package with evidence verify or on the verification page, which read one of any size`,
    (r) =>
      `该文件是 ${mebibytes(r.size)} MiB 的 ZIP，超过本核验方式可读取的网页取证包大小（${MAX_DOCUMENT_BYTES / 1024 / 1024} MiB）：请用 evidence verify 或核验页面核验该取证包，二者可读取任意大小的取证包`,
  ),
  "leaf.match": both(
    () => "the leaf hash is SHA-256(0x00 ‖ JCS(record))",
    () => "叶子哈希等于 SHA-256(0x00 ‖ JCS(记录))",
  ),
  "leaf.mismatch": both(
    (r) => `the record hashes to ${r.computed}, not to the certificate's leaf hash ${r.stated}`,
    (r) => `记录的哈希为 ${r.computed}，而证书所载叶子哈希为 ${r.stated}`,
  ),
  "inclusion.ok": both(
    (r) => `leaf ${r.leafIndex} of ${r.treeSize} leads to root ${r.root}`,
    (r) => `序号为 ${r.leafIndex} 的叶子（共 ${r.treeSize} 个，序号从 0 起）推导出树根 ${r.root}`,
  ),
  "inclusion.wrong-root": both(
    (r) => `leaf ${r.leafIndex} of ${r.treeSize} leads to another root`,
    (r) => `序号为 ${r.leafIndex} 的叶子（共 ${r.treeSize} 个，序号从 0 起）推导出的树根与证书不同`,
  ),
  "inclusion.malformed": both(
    (r) => r.message,
    (r) => `证明不完整：${inChinese(r.message, INCLUSION_PHRASES_ZH, "无法按证明计算树根")}`,
  ),
  "anchor.ok": both(
    (r) => `anchored on chain ${r.chainId} in block ${r.blockNumber} at ${at(r.timestamp, "en")}`,
    (r) => `已于 ${at(r.timestamp, "zh-CN")} 记录在链 ${r.chainId} 的第 ${r.blockNumber} 号区块`,
  ),
  "anchor.no-contract": both(
    (r) =>
      `there is no contract at ${r.contract} on chain ${r.chainId}: the certificate names a contract this node does not hold. If the node may be of another chain with the same id, name the consortium's registry (--contract): the verdict then says which`,
    (r) =>
      `链 ${r.chainId} 上的地址 ${r.contract} 没有合约：证书所载合约不在该节点上。若该节点可能属于使用相同链 ID 的另一条链，请指定联盟的存证合约（--contract），以便区分`,
  ),
  "anchor.chain-unconfirmed": both(
    (r) =>
      `the node has ${r.missing === "contract" ? `no contract at ${r.contract}` : `no anchor of the root in contract ${r.contract}`}, and its block ${r.blockNumber} is not the certificate's (${r.onChain ?? "none"}, not ${r.stated}): it is of another chain with the id ${r.chainId}, or the certificate names a block that chain never had. Ask a node of the consortium's chain, naming its registry (--contract): the verdict then says which`,
    (r) =>
      `该节点${r.missing === "contract" ? `在地址 ${r.contract} 上没有合约` : `的合约 ${r.contract} 中没有该树根的上链记录`}，其第 ${r.blockNumber} 号区块也不是证书所载的区块（${r.onChain ?? "无此区块"}，而非 ${r.stated}）：该节点属于使用相同链 ID ${r.chainId} 的另一条链，或证书所载区块在该链上从未存在。请使用联盟链的节点并指定其存证合约（--contract），结论即可确定`,
  ),
  "anchor.registry-missing": both(
    (r) =>
      `the node has no contract at ${r.contract}, the trusted registry: it is not on the consortium's chain ${r.chainId} (another chain with the same id, or one not synced): use a node of the consortium's chain`,
    (r) =>
      `该节点在受信任的存证合约地址 ${r.contract} 上没有合约：它不是联盟链 ${r.chainId} 的节点（可能是使用相同链 ID 的另一条链，或尚未同步）：请使用联盟链的节点`,
  ),
  "anchor.never-anchored": both(
    (r) => `root ${r.root} was never anchored in contract ${r.contract} on chain ${r.chainId}`,
    (r) => `树根 ${r.root} 从未记录在链 ${r.chainId} 的合约 ${r.contract} 中`,
  ),
  "anchor.time-differs": both(
    (r) => `the chain records the time ${at(r.onChain, "en")}; the certificate says ${at(r.stated, "en")}`,
    (r) => `链上记录的时间为 ${at(r.onChain, "zh-CN")}；证书所载时间为 ${at(r.stated, "zh-CN")}`,
  ),
  "anchor.block-differs": both(
    (r) => `the chain records block ${r.onChain}; the certificate says block ${r.stated}`,
    (r) => `链上记录的区块为第 ${r.onChain} 号；证书所载为第 ${r.stated} 号`,
  ),
  "anchor.size-differs": both(
    (r) => `the chain records a tree of ${r.onChain} leaves; the certificate says ${r.stated}`,
    (r) => `链上记录的默克尔树有 ${r.onChain} 个叶子；证书所载为 ${r.stated} 个`,
  ),
  "anchor.block-hash-differs": both(
    (r) => `block ${r.blockNumber} has hash ${r.onChain}; the certificate says ${r.stated}`,
    (r) => `第 ${r.blockNumber} 号区块的哈希为 ${r.onChain}；证书所载为 ${r.stated}`,
  ),
  "anchor.block-time-differs": both(
    (r) => `block ${r.blockNumber} has the time ${at(r.onChain, "en")}; the certificate says ${at(r.stated, "en")}`,
    (r) => `第 ${r.blockNumber} 号区块的时间为 ${at(r.onChain, "zh-CN")}；证书所载为 ${at(r.stated, "zh-CN")}`,
  ),
  "anchor.no-transaction": both(
    (r) => `the chain has no transaction ${r.txHash}`,
    (r) => `链上没有交易 ${r.txHash}`,
  ),
  "anchor.receipt-unavailable": both(
    (r) =>
      `block ${r.blockNumber} holds transaction ${r.txHash}, but the node keeps no receipt for it: use a node that indexes old transactions`,
    (r) => `第 ${r.blockNumber} 号区块包含交易 ${r.txHash}，但该节点未保存其收据：请使用保留历史交易索引的节点`,
  ),
  "anchor.unknown-contract": both(
    (r) => `the certificate names contract ${r.contract}, which is not the trusted registry (${r.trusted})`,
    (r) => `证书所载合约 ${r.contract} 不是受信任的存证合约（${r.trusted}）`,
  ),
  "anchor.transaction-failed": both(
    (r) => `transaction ${r.txHash} failed on chain`,
    (r) => `交易 ${r.txHash} 在链上执行失败`,
  ),
  "anchor.transaction-elsewhere": both(
    (r) => `transaction ${r.txHash} is in block ${r.blockNumber}, not in the certificate's block`,
    (r) => `交易 ${r.txHash} 位于第 ${r.blockNumber} 号区块，而非证书所载区块`,
  ),
  "anchor.no-event": both(
    (r) => `transaction ${r.txHash} did not anchor this root in the contract`,
    (r) => `交易 ${r.txHash} 并未在该合约中记录此树根`,
  ),
  "anchor.not-anchorer": both(
    (r) => `the root was anchored by ${r.anchorer}, not by the issuer ${r.issuer}`,
    (r) => `该树根由 ${r.anchorer} 上链，而非签发方 ${r.issuer}`,
  ),
  "anchor.unreachable": both(
    (r) => r.message,
    (r) => {
      const ours = r.node === SERVICE_NODE_LABEL;
      const node = ours ? "本服务的区块链节点" : r.node ? `节点 ${r.node} ` : "节点";
      // A browser says only "Failed to fetch" (Chromium), "NetworkError…" (Firefox) or "Load
      // failed" (Safari), whether the node is down or does not allow this page to read it (CORS).
      const browser = /Failed to fetch|NetworkError|Load failed/.test(r.message);
      const why = {
        unreachable: `无法连接${node.trimEnd()}（${ours ? "该节点暂时无法访问，请稍后再试，或填写您自己的节点" : `连接被拒绝或地址不可达${browser ? "，或该节点不允许本网页跨域访问（CORS）" : ""}`}）`,
        timeout: `${node}未在规定时间内应答`,
        "not-json-rpc": `${node}的应答不是 JSON-RPC（地址可能不是区块链节点）`,
        "rpc-error": `${node}拒绝了查询`,
        "bad-answer": `${node}的应答格式不正确`,
      }[r.failure];
      return `${why}。技术细节：${r.message}`;
    },
  ),
  "anchor.other-chain": both(
    (r) =>
      `the node is on chain ${r.actual}; the certificate is for chain ${r.stated}: use a node of chain ${r.stated}`,
    (r) => `该节点属于链 ${r.actual}，而证书属于链 ${r.stated}：请使用链 ${r.stated} 的节点`,
  ),
  "anchor.behind": both(
    (r) => `the node is at block ${r.latest} and has not reached the anchoring block ${r.blockNumber} yet`,
    (r) => `该节点当前位于第 ${r.latest} 号区块，尚未同步到上链区块第 ${r.blockNumber} 号`,
  ),
  "signature.ok": both(
    (r) => `signed by the issuer ${r.issuer} (${r.name})`,
    (r) => `由签发方 ${r.issuer}（${r.name}）签名`,
  ),
  "signature.other-signer": both(
    (r) => `the signature is by ${r.signer}, not by the issuer ${r.issuer}`,
    (r) => `签名者为 ${r.signer}，而非签发方 ${r.issuer}`,
  ),
  "signature.malformed": both(
    () => "the signature is not a valid secp256k1 signature",
    () => "签名不是有效的 secp256k1 签名",
  ),
  "timestamp.none": both(
    () => "no time-stamp token",
    () => "无时间戳令牌",
  ),
  "timestamp.ok": both(
    (r) => `${r.count} time-stamp token(s) verified`,
    (r) => `${r.count} 个时间戳令牌核验通过`,
  ),
  "timestamp.invalid": both(
    (r) => `token ${r.index + 1}: ${timestampProblem(r.problem, "en")}`,
    (r) => `第 ${r.index + 1} 个令牌：${timestampProblem(r.problem, "zh-CN")}`,
  ),
  "timestamp.untrusted": both(
    (r) => `token ${r.index + 1}: the TSA ${r.tsa} is not on the trust list`,
    (r) => `第 ${r.index + 1} 个令牌：时间戳机构 ${r.tsa} 不在信任列表中`,
  ),
  "timestamp.unverifiable": both(
    (r) =>
      `token ${r.index + 1}${r.tsa ? ` of ${r.tsa}` : ""} could not be checked: ${timestampProblem(r.problem, "en")}`,
    (r) => `第 ${r.index + 1} 个令牌${r.tsa ? `（${r.tsa}）` : ""}无法核验：${timestampProblem(r.problem, "zh-CN")}`,
  ),
  "timestamp.not-checked": both(
    (r) => `${r.count} time-stamp token(s) not checked by this verifier`,
    (r) => `本验证程序未核验 ${r.count} 个时间戳令牌`,
  ),
  "package.ok": both(
    (r) => `${r.artifacts} files match the manifest's SHA-256 values`,
    (r) => `${r.artifacts} 个文件与清单中的 SHA-256 一致`,
  ),
  "package.altered": both(
    (r) => r.problems.join("; "),
    (r) => `取证包有问题：${r.problems.map((p) => inChinese(p, PACKAGE_PHRASES_ZH, "取证包内容有误")).join("；")}`,
  ),
  "package.not-a-capture": both(
    (r) =>
      `the certificate is of a file its submitter uploaded${r.mediaType ? ` (${r.mediaType})` : ""}, not of a capture the service made: what the package says of a capture is the submitter's own`,
    (r) =>
      `该证书所存证的是提交者上传的文件${r.mediaType ? `（${r.mediaType}）` : ""}，而不是本服务进行的网页取证：取证包中关于取证的内容是提交者自己写的`,
  ),
  "not-checked.malformed": both(
    () => "not checked: the certificate is malformed",
    () => "未检查：证书格式不正确",
  ),
  "not-checked.no-certificate-yet": both(
    () => "not checked: the package holds no certificate yet",
    () => "未检查：取证包中还没有证书",
  ),
  "not-checked.unreadable": both(
    () => "not checked: the certificate could not be read",
    () => "未检查：无法读取证书",
  ),
};

/** `text` as a pattern that matches it literally. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** What a status answer says beside its certificate (verify-evidence.ts, statementBeside), in Chinese. */
const BESIDE_ZH: [RegExp, string][] = (
  [
    ["is not the certificate's evidence id", "不是证书的存证编号"],
    ['is not "anchored"', "不是 “anchored”"],
    ["is not the certificate's record", "与证书中的记录不同"],
    ["is not the service's", "不是服务所写的说明"],
    ["is no member of the service's status answer", "不是服务状态应答中的字段"],
    ["is not a list of the certificates issued", "不是已签发证书的列表"],
    ["has an entry of another form", "含有格式不符的条目"],
    ["does not end with this certificate", "的最后一项不是本证书"],
    [
      "names a certificate issued outside the record's submission and this certificate",
      "列出了在记录提交之前或本证书之后签发的证书",
    ],
  ] as const
).map(([en, zh]) => [new RegExp(`^"([^"]*)" ${escapeRegExp(en)}$`), `“$1”${zh}`]);

/** The statement beside a certificate that a format failure names, in the reader's language; undefined for any other failure. */
function besideText(message: string, lang: Lang): string | undefined {
  const prefix = `${CERTIFICATE_WITH_STATEMENTS}: `;
  if (!message.startsWith(prefix)) return undefined;
  const detail = message.slice(prefix.length);
  return lang === "zh-CN" ? inChinese(detail, BESIDE_ZH, "证书旁的陈述") : detail;
}

/**
 * A verifier's English message in Chinese, by the first phrase that matches it. Field names,
 * file names and values are kept as written: they are what the certificate or the package
 * holds. A message no phrase knows is never shown as if it were the sentence: the reader gets
 * `summary`, and the English after it, marked as the technical detail.
 */
function inChinese(message: string, phrases: readonly [RegExp, string][], summary: string): string {
  for (const [pattern, zh] of phrases) if (pattern.test(message)) return message.replace(pattern, zh);
  return `${summary}（技术细节：${message}）`;
}

/**
 * The format check's reasons: they name a field (kept as written, it is the field's name in
 * the certificate) and what is wrong with it; or say what the document or package lacks.
 */
const FORMAT_PHRASES_ZH: [RegExp, string][] = [
  // The certificate as a whole is no field: said in words.
  [/^certificate is not valid JSON$/, "证书不是有效的 JSON"],
  [
    /^the certificate file is not UTF-8 text$/,
    "证书文件不是 UTF-8 文本（可能被另存为其他编码，如 UTF-16 或 GBK；请使用签发时的原文件）",
  ],
  [/ is not valid JSON$/, " 不是有效的 JSON"],
  [/ has the key "([^"]*)" twice in (.*)$/, " 的 $2 中两次出现键 “$1”"],
  [/ has the key "([^"]*)" twice$/, " 中两次出现键 “$1”"],
  [/ has an unknown field "([^"]*)"$/, " 含有未知字段 “$1”"],
  [/ is missing$/, " 缺失"],
  [/ must be a JSON object$/, " 应为 JSON 对象"],
  [/ must be a string$/, " 应为字符串"],
  [/ must be an array$/, " 应为数组"],
  [/ must be an integer >= (\d+)$/, " 应为不小于 $1 的整数"],
  [/ must be 1 or 2$/, " 应为 1 或 2"],
  [/ must be the integer 1$/, " 应为整数 1"],
  [/ must be "([^"]*)"$/, " 应为 “$1”"],
  [/ must be 0x followed by 64 lowercase hex characters$/, " 应为 0x 加 64 个小写十六进制字符"],
  [
    / must be 0x followed by 130 lowercase hex characters(, ending in 1b or 1c)?$/,
    " 应为 0x 加 130 个小写十六进制字符（以 1b 或 1c 结尾）",
  ],
  [/ must be 64 lowercase hex characters$/, " 应为 64 个小写十六进制字符"],
  [/ must be 32 lowercase hex characters$/, " 应为 32 个小写十六进制字符"],
  [/ must be (\d+) to (\d+) base64url characters$/, " 应为 $1 至 $2 个 base64url 字符"],
  [/ must be (\d+) to (\d+) characters of (.*)$/, " 应为 $1 至 $2 个字符，只能含 $3"],
  [/ must be RFC 3339 UTC with milliseconds$/, " 应为带毫秒的 RFC 3339 UTC 时间"],
  [/ is not a real date and time$/, " 不是真实存在的日期时间"],
  [/ must be a 20-byte hex address$/, " 应为 20 字节的十六进制地址"],
  [/ has a wrong EIP-55 checksum$/, " 的 EIP-55 校验和错误"],
  [/ is longer than (\d+) characters$/, " 超过 $1 个字符"],
  [/ is not valid Unicode$/, " 不是有效的 Unicode 文本"],
  [/ must be less than (\S+)$/, " 应小于 $1"],
  [/ has more than (\d+) (elements|tokens)$/, " 超过 $1 项"],
  [/ must be base64$/, " 应为 base64"],
  [/^certificate is larger than (\d+) bytes$/, "证书超过 $1 字节"],
  [
    /^the file is not a certificate: it is larger than (\d+) MB, .*$/s,
    "该文件不是证书：它大于 $1 MB，只有网页取证包（.zip）才会这么大",
  ],
  [
    /^the file is not a certificate: .*$/s,
    "该文件不是证书：证书是 JSON 文件（.evidence.json）、其 PDF 文档或网页取证包（.zip）",
  ],
  [/^the PDF is not a certificate document: .*$/s, "该 PDF 不是证书文档：其中没有附带 *.evidence.json 证书"],
  [/^the ZIP is not a capture package: .*$/s, "该 ZIP 不是网页取证包：其中没有取证清单"],
  [/^the PDF document holds no readable certificate: (.*)$/s, "PDF 文档中没有可读取的证书（技术细节：$1）"],
  [/^the capture package cannot be read: (.*)$/s, "无法读取网页取证包（技术细节：$1）"],
];

/** Why a proof cannot lead to a root at all. */
const INCLUSION_PHRASES_ZH: [RegExp, string][] = [
  [
    /^wrong proof size (\d+), want (\d+) for leaf (\d+) of (\d+)$/,
    "证明路径有 $1 个哈希，而序号为 $3 的叶子（共 $4 个）需要 $2 个",
  ],
  [/^leaf index (\d+) is outside a tree of size (\d+)$/, "叶子序号 $1 超出了共 $2 个叶子的树"],
  [/^tree size (\S+) must be a positive integer$/, "树的大小 $1 应为正整数"],
];

/** A package's problems: each names a file in it. */
const PACKAGE_PHRASES_ZH: [RegExp, string][] = [
  [/^(.*) is not in canonical form \(RFC 8785\)$/s, "$1 不是规范形式（RFC 8785）"],
  [/^(.*) is listed in (\S+) but missing from the package$/s, "$1 列在 $2 中，但取证包里没有"],
  [
    /^(.*) was altered: SHA-256 (\w+) \((\d+) bytes\), the manifest says (\w+) \((\d+) bytes\)$/s,
    "$1 已被改动：其 SHA-256 为 $2（$3 字节），清单所载为 $4（$5 字节）",
  ],
  [/^(.*) is in the package but not listed in (\S+)$/s, "$1 在取证包中，但未列入 $2"],
  [/^(.*): its CRC-32 or length does not match the ZIP directory$/s, "$1 的 CRC-32 或长度与 ZIP 目录不符"],
];

/** What a PDF in a form the reader does not read uses, in Chinese. */
const UNSUPPORTED_PHRASES_ZH: [RegExp, string][] = [
  [/^encrypted PDFs are not supported$/, "加密的 PDF"],
  [/^streams with more than one filter are not supported$/, "带多个过滤器的数据流"],
  [/^the stream filter (\S+) is not supported$/, "数据流过滤器 $1"],
  [/^the PDF has more than (\d+) objects$/, "对象超过 $1 个，多于本验证程序读取的上限"],
  [/^the PDF has more than (\d+) values$/, "数值超过 $1 个，多于本验证程序读取的上限"],
  [/^the PDF has more than (\d+) cross-reference entries$/, "交叉引用条目超过 $1 个，多于本验证程序读取的上限"],
  [/^the PDF inflates to more than (\d+) bytes$/, "解压后超过 $1 字节，多于本验证程序读取的上限"],
  [/^the PDF could not be read within (\d+) ms$/, "未能在 $1 毫秒内读完"],
  [/^reading the PDF needs more memory than the reader may use$/, "读取所需的内存超过本验证程序可用的上限"],
  [/^the PDF's reader stopped while reading it \(exit code (\d+)\)$/, "读取时读取程序中止（退出码 $1）"],
  [/^the PDF's reader stopped while reading it \(it did not start within (\d+) ms\)$/, "读取程序未能在 $1 毫秒内启动"],
  [/^the PDF's reader stopped while reading it \((.*)\)$/s, "读取时读取程序中止（$1）"],
];

/** Why a certificate's file could not be read (the command line's bulk run), in Chinese. */
const UNREADABLE_PHRASES_ZH: [RegExp, string][] = [
  [/^EACCES: .*?'(.*)'$/s, "没有读取 $1 的权限"],
  [/^ENOENT: .*?'(.*)'$/s, "$1 不存在"],
  [/^EISDIR: .*?'(.*)'$/s, "$1 是目录"],
  [/^ELOOP: .*?'(.*)'$/s, "$1 的符号链接层数过多"],
  [/^(.*) is not a regular file$/s, "$1 不是普通文件"],
  [/^(.*) is larger than (\d+) MB: not a certificate$/s, "$1 大于 $2 MB，不是证书"],
  [/^reading it failed \((.*)\)$/s, "读取失败（$1）"],
];

/** Why a time-stamp token failed or could not be checked, by the verifier's problem code. */
type TimestampProblem = Exclude<TimestampDetailCode, "ok"> | "unreadable" | "unreadable-trust-list";

const TIMESTAMP_PROBLEMS: Record<TimestampProblem, Words> = {
  malformed: {
    en: "the token is not a well-formed RFC 3161 token",
    "zh-CN": "令牌格式不正确，不是有效的 RFC 3161 令牌",
  },
  "unsupported-imprint-algorithm": {
    en: "the token stamps its data with a hash other than SHA-256",
    "zh-CN": "令牌对所盖数据使用的不是 SHA-256 哈希",
  },
  "imprint-mismatch": {
    en: "the token stamps other data, not this certificate's root",
    "zh-CN": "令牌所盖的不是本证书的树根",
  },
  "bad-signed-attributes": {
    en: "the token's signed attributes are malformed",
    "zh-CN": "令牌的签名属性格式不正确",
  },
  "content-digest-mismatch": {
    en: "the token was altered after it was signed (its content no longer matches its signature)",
    "zh-CN": "令牌在签名后被改动（其内容与签名不再相符）",
  },
  "bad-signature": {
    en: "the token's signature is not valid",
    "zh-CN": "令牌的签名无效",
  },
  "no-signing-certificate-attribute": {
    en: "the token does not name the certificate that signed it",
    "zh-CN": "令牌未注明签发它的证书",
  },
  "signing-certificate-mismatch": {
    en: "the token names another certificate than the one that signed it",
    "zh-CN": "签名证书与令牌的绑定不符",
  },
  "no-timestamping-eku": {
    en: "the signing certificate is not for time-stamping (no timeStamping EKU)",
    "zh-CN": "签发证书没有时间戳用途（timeStamping EKU）",
  },
  "timestamping-eku-not-critical": {
    en: "the signing certificate's time-stamping use is not marked critical",
    "zh-CN": "签发证书的时间戳用途未标为关键",
  },
  "timestamping-eku-not-exclusive": {
    en: "the signing certificate is for more than time-stamping",
    "zh-CN": "签发证书不仅用于时间戳",
  },
  "key-usage-forbids-signing": {
    en: "the signing certificate's key may not sign",
    "zh-CN": "签发证书的密钥用途不允许签名",
  },
  "not-canonical": {
    en: "the token checks out as its bytes are, but it is not in the strict encoding (DER) every verifier reads alike, so it is not vouched for; this does not show it false",
    "zh-CN": "令牌按其原样核验无误，但未采用各验证程序一致读取的严格编码（DER），因此不予认可；这并不表明令牌是假的",
  },
  "signer-certificate-missing": {
    en: "the token does not carry the certificate that signed it",
    "zh-CN": "令牌未附签发证书",
  },
  "unsupported-algorithm": {
    en: "the token uses an algorithm this verifier does not support",
    "zh-CN": "令牌使用了不支持的算法",
  },
  "untrusted-tsa": {
    en: "the TSA is not on the trust list",
    "zh-CN": "时间戳机构不在信任列表中",
  },
  "certificate-not-valid-at-gentime": {
    en: "a certificate on the path from the TSA's certificate to the trust list was not valid at the token's time",
    "zh-CN": "从时间戳机构证书到信任列表的证书链中，有证书在时间戳时间不在有效期内",
  },
  unreadable: {
    en: "the token cannot be read",
    "zh-CN": "无法读取令牌",
  },
  "unreadable-trust-list": {
    en: "the trust list given cannot be read",
    "zh-CN": "所给的时间戳机构信任列表无法读取",
  },
};

/**
 * What a time-stamp's summary line adds to its authority's name and time: nothing for a token
 * that was checked; otherwise that it was not (the name and the time are only what the token
 * itself says, which anyone can write) or that it failed. Shown wherever those lines are.
 */
export function timestampStatusNote(status: TimestampSummary["status"], lang: Lang): string {
  if (status === "passed") return "";
  if (status === "failed") return lang === "zh-CN" ? "——未通过：令牌不成立" : " — FAILED: the token does not hold";
  return lang === "zh-CN"
    ? "——未核验：名称和时间仅为令牌自述"
    : " — NOT CHECKED: the name and time are only what the token says";
}

/** A problem code in words; one this verifier does not know is shown as it is. */
function timestampProblem(problem: string, lang: Lang): string {
  return (TIMESTAMP_PROBLEMS as Record<string, Words | undefined>)[problem]?.[lang] ?? problem;
}

export function reasonText(reason: Reason, lang: Lang): string {
  return (DETAILS[reason.code] as Detail<ReasonCode>)(reason as never, lang);
}

export function checkSentence(check: Pick<Check, "id" | "status"> & { reason?: Reason }, lang: Lang): string {
  // A check not run because the certificate could not be read or parsed says why, as a sentence.
  if (check.reason?.code.startsWith("not-checked.")) {
    const detail = reasonText(check.reason, lang);
    return lang === "zh-CN" ? `${detail}。` : `${detail[0]!.toUpperCase()}${detail.slice(1)}.`;
  }
  const sentence = check.reason && REASON_SENTENCES[check.reason.code];
  if (sentence) return sentence[lang];
  return CHECK_SENTENCES[check.id][check.status][lang];
}

/**
 * Checks said by their reason where the check's own sentence would mislead: a capture
 * package's `content`, said of the package rather than of "the file you supplied"; and an
 * `anchor` said as what the node answered or what the reader trusts ("could not be read"
 * would send the reader looking for a network fault, "the blockchain contradicts" would call a
 * certificate of another registry altered).
 */
const REASON_SENTENCES: Partial<Record<ReasonCode, Words>> = {
  "content.package": {
    en: "The package's manifest.json is exactly the certified record's content (same SHA-256).",
    "zh-CN": "取证包中的 manifest.json 与存证内容完全一致（SHA-256 相同）。",
  },
  "content.package-mismatch": {
    en: "The package's manifest.json is NOT the certified content: its SHA-256 differs.",
    "zh-CN": "取证包中的 manifest.json 不是存证内容：两者的 SHA-256 不同。",
  },
  "content.package-file": {
    en: "The file you supplied is one of the capture's files, listed in the certified manifest with the same SHA-256.",
    "zh-CN": "您提供的文件是该网页取证的文件之一，存证清单中所列的 SHA-256 与之相同。",
  },
  "content.not-in-package": {
    en: "The file you supplied is not part of this capture: neither the manifest nor any file it lists has its SHA-256.",
    "zh-CN": "您提供的文件不属于该网页取证：清单本身及其所列文件的 SHA-256 均与之不同。",
  },
  "content.package-unread": {
    en: "The file was not compared: a capture package is compared by its files, and this one is larger than this verifier reads. This is not evidence against the certificate: verify the package with `evidence verify` or on the verification page, which read packages of any size.",
    "zh-CN":
      "未比对文件：网页取证包须逐一比对其中的文件，而该文件超过本核验方式可读取的大小。这并不表明证书有问题：请用 `evidence verify` 或核验页面核验该取证包，二者可读取任意大小的取证包。",
  },
  "package.not-a-capture": {
    en: "This is not a capture the service made: the certificate is of a file its submitter uploaded, so the URL, times and screenshot in the package are unproven claims.",
    "zh-CN": "这不是本服务进行的网页取证：该证书所存证的是提交者上传的文件，取证包中的网址、时间和截图均未经证明。",
  },
  "anchor.behind": {
    en: "The node has not yet reached the anchoring block, so the anchor is unconfirmed. This is not evidence against the certificate.",
    "zh-CN": "该节点尚未同步到上链区块，上链信息尚未核实。这并不表明证书有问题。",
  },
  "anchor.other-chain": {
    en: "The node is of another chain than the certificate's, so the anchor is unconfirmed. This is not evidence against the certificate.",
    "zh-CN": "该节点不属于证书所在的链，上链信息尚未核实。这并不表明证书有问题。",
  },
  "anchor.no-contract": {
    en: "The chain holds no contract where the certificate says it was anchored.",
    "zh-CN": "链上没有证书所述的存证合约。",
  },
  "anchor.unknown-contract": {
    en: "The certificate names a contract that is not the trusted registry: it was not anchored where the consortium anchors.",
    "zh-CN": "证书所载合约不是受信任的存证合约：该证书并非在联盟的存证合约中上链。",
  },
  "anchor.chain-unconfirmed": {
    en: "The node holds neither the certificate's anchor nor its block: it may be of another chain that uses the same id, so the anchor is unconfirmed. On a node of the consortium's chain, with its registry named, the verdict says whether the certificate is genuine.",
    "zh-CN":
      "该节点上既没有证书所述的上链记录，也没有证书所载的区块：它可能属于使用相同链 ID 的另一条链，上链信息尚未核实。使用联盟链的节点并指定其存证合约后，结论即可确定证书是否真实。",
  },
  "anchor.registry-missing": {
    en: "The node does not hold the trusted registry: it is not of the consortium's chain, so the anchor is unconfirmed. This is not evidence against the certificate.",
    "zh-CN": "该节点上没有受信任的存证合约，不属于联盟链，上链信息尚未核实。这并不表明证书有问题。",
  },
  "anchor.receipt-unavailable": {
    en: "The node keeps no receipt of the anchoring transaction, so the anchor is unconfirmed. This is not evidence against the certificate.",
    "zh-CN": "该节点未保存上链交易的收据，上链信息尚未核实。这并不表明证书有问题。",
  },
};

/** Said above the facts of a certificate that failed: they are its own claims. */
export const UNPROVEN_FACTS: Words = {
  en: "What this certificate states, below, is unproven: it failed its checks, so none of it (times, names, issuer) can be relied on.",
  "zh-CN": "以下为该证书自称的内容，未经证实：证书未通过检查，其中的时间、名称、签发方等均不可采信。",
};

export const VERDICT_NAMES: Record<Verdict, Words> = {
  valid: { en: "VALID", "zh-CN": "有效" },
  invalid: { en: "INVALID", "zh-CN": "无效" },
  indeterminate: { en: "COULD NOT VERIFY", "zh-CN": "无法验证" },
};

/** The verdict in one line, saying whether a file was compared. */
export function verdictHeadline(
  result: Pick<VerificationResult, "verdict" | "fileCompared" | "capture" | "checks">,
  lang: Lang,
): string {
  const differs = onlyTheContentDiffers(result);
  if (differs === "package") {
    return lang === "zh-CN" ? "无效——取证包与证书不一致" : "INVALID — the package does not match the certificate";
  }
  if (differs === "file") {
    if (digestGiven(result)) {
      return lang === "zh-CN"
        ? "无效——所给 SHA-256 与存证不一致"
        : "INVALID — the SHA-256 given does not match the certificate";
    }
    return lang === "zh-CN" ? "无效——文件与存证不一致" : "INVALID — the file does not match the certificate";
  }
  if (holdsNoCertificate(result)) {
    return lang === "zh-CN" ? "无效——此文件中没有证书" : "INVALID — there is no certificate in this file";
  }
  if (result.verdict !== "valid") return VERDICT_NAMES[result.verdict][lang];
  if (result.capture)
    return lang === "zh-CN" ? "有效——网页取证包与存证一致" : "VALID — the capture package matches the certificate";
  if (result.fileCompared && digestGiven(result)) {
    return lang === "zh-CN" ? "有效——所给 SHA-256 与存证一致" : "VALID — the SHA-256 given matches the certificate";
  }
  if (result.fileCompared) {
    return lang === "zh-CN" ? "有效——文件与存证一致" : "VALID — the file matches the certificate";
  }
  return lang === "zh-CN" ? "证书有效——未比对文件" : "VALID CERTIFICATE — no file compared";
}

/** Whether the content check compared a SHA-256 the reader gave, not a file the verifier read. */
function digestGiven(result: Pick<VerificationResult, "checks">): boolean {
  const reason = result.checks.find((c) => c.id === "content")?.reason;
  return (reason?.code === "content.match" || reason?.code === "content.mismatch") && reason.given === true;
}

/**
 * Whether the file given as the certificate holds none (a PDF without the attachment, such as
 * a printout; a file of another kind): said in the headline, so that "invalid" is not read as
 * "forged". A damaged or altered certificate keeps the plain headline.
 */
function holdsNoCertificate(result: Pick<VerificationResult, "verdict" | "checks">): boolean {
  const format = result.checks.find((c) => c.id === "format");
  if (result.verdict !== "invalid" || format?.status !== "failed" || format.reason.code !== "format.malformed")
    return false;
  const message = format.reason.message;
  return WRONG_FILE_MESSAGES.includes(message) || message === PDF_WITHOUT_CERTIFICATE;
}

/** The format failure of a certificate document read without finding a certificate attached. */
const PDF_WITHOUT_CERTIFICATE = `${UNREADABLE_DOCUMENT}: ${NO_CERTIFICATE_ATTACHED}`;

/**
 * A genuine certificate handed over with another file ("file"), or in a capture package whose
 * manifest is not the certified one ("package"): the content comparison is the only check
 * that failed, and every check of the certificate itself passed. Said as such, so that a
 * mediator does not read "invalid" as "forged", nor blame a file nobody supplied.
 */
function onlyTheContentDiffers(result: Pick<VerificationResult, "verdict" | "checks">): "file" | "package" | undefined {
  if (result.verdict !== "invalid") return undefined;
  const check = (id: CheckId) => result.checks.find((c) => c.id === id);
  const content = check("content");
  const only =
    content?.status === "failed" &&
    (["format", "leaf", "inclusion", "anchor", "signature"] as const).every((id) => check(id)?.status === "passed") &&
    check("package")?.status !== "failed";
  if (!only) return undefined;
  return content.reason.code === "content.package-mismatch" ? "package" : "file";
}

/** What the verdict means and, where it is not valid, what to do next. */
export function verdictExplanation(result: VerificationResult, lang: Lang): string {
  const zh = lang === "zh-CN";
  if (result.verdict === "valid") {
    const time = result.anchoredAt ? timeText(new Date(result.anchoredAt), lang) : undefined;
    // The local time already ends with its offset in brackets: the UTC time follows after 即.
    const when = !time
      ? ""
      : time.isUtc
        ? zh
          ? `${time.utc} `
          : time.utc
        : zh
          ? `${time.local}，即 ${time.utc}，`
          : `${time.local} (${time.utc})`;
    if (result.capture) {
      return zh
        ? `${result.capture.url} 的网页取证记录最迟在 ${when}已经存在，取证包中的文件自那时起未被改动。`
        : `The capture of ${result.capture.url} existed no later than ${when}; the package's files are unchanged since.`;
    }
    if (result.fileCompared && digestGiven(result)) {
      return zh
        ? `证书真实且已上链：SHA-256 为您所给值的文件最迟在 ${when}已经存在。本次只比对了哈希值，未读取任何文件：要确认手中的文件就是它，请提供文件本身，或自行计算其 SHA-256（如 sha256sum）后比较。`
        : `The certificate is genuine and anchored: a file with the SHA-256 you gave existed no later than ${when}. Only the hash was compared; no file was read: to check that a file at hand is that file, supply the file itself, or compute its SHA-256 (sha256sum) and compare.`;
    }
    if (result.fileCompared) {
      return zh
        ? `您提供的文件最迟在 ${when}已经存在，且自那时起未被改动。`
        : `The file you supplied existed no later than ${when}, unchanged since.`;
    }
    return zh
      ? `证书真实且已上链：一个 SHA-256 为证书所载值的文件最迟在 ${when}已经存在。未比对文件：请提供原始文件以确认是同一文件。`
      : `The certificate is genuine and anchored: a file with the certified SHA-256 existed no later than ${when}. No file was compared: supply the original file to check that it is this file.`;
  }
  const differs = onlyTheContentDiffers(result);
  if (differs === "package") {
    return zh
      ? "证书本身核验无误，但取证包中的 manifest.json 不是该证书所存证的内容（两者的 SHA-256 不同）：取证包已被改动，或该证书属于另一次网页取证。该证书不能证明此取证包中的任何内容。"
      : "The certificate itself checks out, but the package's manifest.json is not the content it certifies (their SHA-256 values differ): the package was altered, or the certificate belongs to another capture. It proves nothing in this package.";
  }
  if (differs === "file" && result.capture) {
    return zh
      ? "取证包与证书本身核验无误，但您提供的文件不属于该网页取证：清单本身及其所列文件的 SHA-256 均与之不同。"
      : "The package and its certificate check out, but the file you supplied is not part of this capture: neither the manifest nor any file it lists has its SHA-256.";
  }
  if (differs === "file" && digestGiven(result)) {
    return zh
      ? "证书本身核验无误（记录、默克尔证明、区块链锚定和签发方签名均通过），但您所给的 SHA-256 不是存证内容哈希。请核对所给的值，或提供原始文件。"
      : "The certificate itself checks out (record, Merkle proof, blockchain anchor and issuer signature all pass), but the SHA-256 you gave is not the certified content hash. Check the value you gave, or supply the original file.";
  }
  if (differs === "file") {
    return zh
      ? "证书本身核验无误（记录、默克尔证明、区块链锚定和签发方签名均通过），但您提供的文件不是存证的文件：两者的 SHA-256 不同。请提供原始文件。"
      : "The certificate itself checks out (record, Merkle proof, blockchain anchor and issuer signature all pass), but the file you supplied is not the certified file: their SHA-256 values differ. Supply the original file.";
  }
  const format = result.checks.find((c) => c.id === "format");
  if (format?.reason.code === "format.no-certificate-yet") {
    return zh
      ? "该网页取证包中还没有证书：取证内容上链后才签发证书。请在上链后重新下载取证包，或使用其证书。"
      : "This capture package holds no certificate yet: it is issued once the capture is anchored. Download the package again once it is, or use its certificate.";
  }
  if (format?.status === "failed") {
    // A file of another kind was chosen; anything else claims to be a certificate and is
    // damaged or altered, which is not the reader's mistake.
    const message = format.reason.code === "format.malformed" ? format.reason.message : "";
    // A PDF without the attachment is most often a copy of a genuine document that lost it:
    // a printout, a scan, a "print to PDF". Said so, lest the reader take it for a forgery.
    if (message === NOT_A_CERTIFICATE_DOCUMENT || message === PDF_WITHOUT_CERTIFICATE) {
      return zh
        ? "这份 PDF 中没有证书附件，无法核验。若它是证书的副本——打印件、扫描件或“打印为 PDF”所得——附件已在复制时丢失，这并不表明证书是伪造的：请索取签发时的 PDF 证书或其 .evidence.json 文件。若选错了文件，请选择存证证书（.evidence.json、PDF 证书或网页取证包 .zip）。"
        : 'This PDF carries no certificate attachment, so there is nothing to verify. If it is a copy of a certificate document (a printout, a scan, a "print to PDF" copy), the copy lost the attachment, which is no sign of forgery: ask for the PDF as issued, or its .evidence.json file. If this is the wrong file, choose the evidence certificate (.evidence.json, its PDF document or a capture package .zip).';
    }
    // Forms readers read differently, which a forger can use.
    if (message.startsWith(`${UNREADABLE_DOCUMENT}: `)) {
      return zh
        ? `这份 PDF 无法可靠读取：${reasonText(format.reason, lang)}。不同的 PDF 阅读器可能从中读出不同的证书，因此它按现状不能证明任何内容：它可能被改动过，也可能经 PDF 工具改写。请索取签发时的 PDF 证书或其 .evidence.json 文件。`
        : `This PDF cannot be read safely: ${reasonText(format.reason, lang)}. Different PDF readers could find different certificates in it, so as it is it proves nothing: it may have been altered, or rewritten by a PDF tool. Ask for the PDF as issued, or its .evidence.json file.`;
    }
    const beside = besideText(message, lang);
    if (beside !== undefined) {
      return zh
        ? `此文件中除证书外，还有证书未涵盖的陈述：${beside}。读者可能把这些陈述当作已存证的事实，因此此文件按现状不能证明任何内容。请单独核验证书：服务签发的 .evidence.json 文件或其 PDF 证书。`
        : `This file holds a certificate and, beside it, statements the certificate does not cover: ${beside}. A reader could take them for certified facts, so as it is the file proves nothing. Verify the certificate on its own: the .evidence.json file or the PDF document the service issued.`;
    }
    if (WRONG_FILE_MESSAGES.includes(message)) {
      return zh
        ? `无法读取证书：${reasonText(format.reason, lang)}。请选择存证证书（.evidence.json、PDF 证书或网页取证包 .zip）。`
        : `This is not a readable certificate: ${reasonText(format.reason, lang)}. Choose the evidence certificate (.evidence.json, its PDF document or a capture package .zip).`;
    }
    return zh
      ? `证书无法按其格式读取：${reasonText(format.reason, lang)}。它已损坏或被改动，不能证明任何内容。若选错了文件，请选择存证证书（.evidence.json、PDF 证书或网页取证包 .zip）。`
      : `The certificate cannot be read as one: ${reasonText(format.reason, lang)}. It is damaged or was altered, and proves nothing. If this is the wrong file, choose the evidence certificate (.evidence.json, its PDF document or a capture package .zip).`;
  }
  if (result.verdict === "invalid") {
    // The certificate's own failures first: a file compared with an altered certificate was
    // compared with nothing that counts, and is not the point.
    const failed = result.checks.filter((c) => c.status === "failed");
    const own = failed.filter(isOfTheCertificate).map((c) => CHECK_NAMES[c.id][lang]);
    const content = failed.some((c) => c.id === "content");
    const pkg = failed.find((c) => c.id === "package");
    if (own.length === 0 && pkg?.reason.code === "package.not-a-capture") {
      // A genuine certificate of an uploaded file, put in a package as if the service had captured it.
      return zh
        ? "这不是本服务进行的网页取证：证书所存证的是提交者上传的文件（清单 manifest.json），取证包中的网址、时间和截图都是提交者自己写的，未经证明。"
        : "This is not a capture the service made: the certificate is of a file its submitter uploaded (the manifest.json), so the URL, times and screenshot in the package are the submitter's own claims and prove nothing.";
    }
    if (own.length === 0 && pkg) {
      // The package's files, not the certificate, were altered.
      return zh
        ? "取证包中的文件已被改动（见“取证包”一项），该取证包不能证明任何内容；证书本身的检查均未失败。"
        : "Files in the capture package were altered (see Capture package): the package proves nothing. None of the certificate's own checks failed.";
    }
    if (own.length === 0) {
      return zh
        ? "文件比对未通过：该证书不能证明此文件。"
        : "The file comparison failed: the certificate does not prove this file.";
    }
    return zh
      ? `证书本身未通过以下检查：${own.join("、")}。证书已被改动或并非其所声称的证书，不能证明其所述内容。${content ? "文件比对所依据的是这份证书，因此比对结果同样无意义。" : ""}`
      : `The certificate itself fails these checks: ${own.join(", ")}. It was altered, or is not what it claims to be, and does not prove what it states.${content ? " The file was compared with this certificate, so that comparison means nothing either." : ""}`;
  }
  // A form the reader does not take (encryption, another filter) is most often a PDF tool's rewrite.
  if (format?.reason.code === "format.unsupported-document") {
    return zh
      ? `这份 PDF 使用了本验证程序不读取的形式：${inChinese(format.reason.message, UNSUPPORTED_PHRASES_ZH, "不支持的 PDF 形式")}。它可能经 PDF 工具改写过（加密、重新编码，或并入更大的文件等），按现状无法核验，这本身并不表明证书是伪造的。请索取签发时的 PDF 证书或其 .evidence.json 文件。`
      : `This PDF is in a form this verifier does not read: ${format.reason.message}. A PDF tool may have rewritten it (encrypted it, re-encoded its streams, merged it into a larger document); as it is it cannot be verified, which is itself no sign of forgery. Ask for the PDF as issued, or its .evidence.json file.`;
  }
  const errors = result.checks.filter((c) => c.status === "error" && c.id !== "timestamp");
  const why = errors.map((c) => reasonText(c.reason, lang)).join(zh ? "；" : "; ");
  // What to do depends on what could not be done: read the file, or read the chain.
  const advice = errors.some((c) => c.reason.code === "format.unreadable")
    ? zh
      ? "请确认文件可以读取且未在被改动（仍在复制或下载、被备份或杀毒软件占用），然后重试。"
      : "Check that the file can be read and is not being changed (still being copied or downloaded, held by a backup or antivirus tool), then try again."
    : errors.every((c) => c.id === "anchor")
      ? zh
        ? "请检查节点地址、使用证书所属链的节点，或稍后重试。"
        : "Check the node URL, use a node of the certificate's chain, or try again later."
      : "";
  return zh
    ? `未能完成验证，这并不表明证书是伪造的。原因：${why}。${advice}`
    : `The verification could not be completed; this is not a sign of forgery. Reason: ${why}.${advice ? ` ${advice}` : ""}`;
}

export function warningText(warning: Warning, lang: Lang): string {
  const zh = lang === "zh-CN";
  switch (warning.code) {
    case "warning.development-chain":
      return zh
        ? `开发链（链 ID ${warning.chainId}）：其运营方可以改写该链，此证书仅供试用，不具证据效力。`
        : `Development chain (id ${warning.chainId}): its operator can rewrite it. This certificate is for trying the service and proves nothing to a court.`;
    case "warning.timestamp-offset":
      return zh
        ? `时间戳机构 ${warning.tsa} 的时间与区块时间相差 ${warning.offsetSeconds} 秒。`
        : `The time of TSA ${warning.tsa} differs from the block's by ${warning.offsetSeconds} s.`;
    case "warning.timestamp-unchecked":
      return zh ? "证书附有时间戳令牌，但本次未核验。" : "The certificate's time-stamp tokens were not checked.";
    case "warning.registry-unchecked":
      return zh
        ? `未与受信任的存证合约比对：证书所载合约 ${warning.contract}（链 ${warning.chainId}）按证书所述采信。请与联盟公布的存证合约地址核对，或用 --contract 指定。`
        : `No trusted registry was named: the certificate's contract ${warning.contract} (chain ${warning.chainId}) was taken as it says. Compare it with the consortium's published registry, or name that with --contract.`;
    case "warning.printed-page-unchecked":
      return zh
        ? "仅核验了 PDF 所附的证书，未核验其打印页面（页面可被任何人编辑）：只有本结果所列的内容得到证实。请将 PDF 页面或纸质文本上的每一项（编号、内容哈希、文件名、提交和上链时间、签发方）与本结果逐一核对，不一致之处以本结果为准。"
        : "Only the certificate attached to the PDF was checked, not its printed page (anyone can edit a page): only what this result shows is proven. Compare every item on the PDF's page or a paper copy (id, content hash, file name, submission and anchoring times, issuer) with this result; where they differ, this result is right.";
    case "warning.development-tsa":
      return zh
        ? "时间戳由开发测试用时间戳机构签发，法院不予采信。"
        : "The time-stamp was issued by a development TSA, which courts do not trust.";
    case "warning.stated-time-contradicts-anchor": {
      const at = timeText(new Date(warning.at), lang).utc;
      const anchored = timeText(new Date(warning.anchoredAt), lang).utc;
      if (warning.stated === "submittedAt") {
        return zh
          ? `签发方所述的提交时间（${at}）晚于上链时间（${anchored}）：记录不可能在形成之前上链。签发方的时钟有误，或其所述不实；得到证实的只有上链时间。`
          : `The issuer states the file was submitted at ${at}, after the root was anchored at ${anchored}: no record is anchored before it is made. The issuer's clock was wrong, or what it states is not true; only the anchoring time is proven.`;
      }
      return zh
        ? `签发方所述的签发时间（${at}）早于其所载锚定的上链时间（${anchored}）：证书不可能在其锚定之前签发。签发方的时钟有误，或其所述不实；得到证实的只有上链时间。`
        : `The issuer states it issued the certificate at ${at}, before the anchor it names was made at ${anchored}: no certificate is issued before its anchor. The issuer's clock was wrong, or what it states is not true; only the anchoring time is proven.`;
    }
  }
}

/** The machine-readable verdict of docs/protocol.md §8, as `POST /api/v1/verify` and `evidence verify --json` give it. */
export interface VerificationJson {
  verdict: Verdict;
  valid: boolean;
  fileCompared: boolean;
  anchoredAt: string | null;
  developmentChain: boolean;
  /** The certified record's id, when the certificate could be read. */
  id?: string;
  /** A capture's certified facts (docs/protocol.md §9.4 step 7). */
  capture?: Omit<CaptureSummary, "artifacts" | "screenshot">;
  checks: { id: CheckId; status: CheckStatus; ok: boolean; detail: string; reason: Reason }[];
  timestamps: VerificationResult["timestamps"];
  warnings: { code: Warning["code"]; detail: string }[];
}

/** A capture's HTTP status as a reader needs it: an error status is said to be one, since its page was recorded all the same. */
export function httpStatusText(status: number, lang: Lang): string {
  if (status < 400) return String(status);
  return lang === "zh-CN"
    ? `${status}（网站返回的是错误，所取证的是该错误页面）`
    : `${status} (the site answered with an error: the page captured is its error page)`;
}

/** A capture's facts as a verdict states them: its addresses, HTTP status, title and times (no screenshot bytes). */
export function captureFacts(capture: CaptureSummary): Omit<CaptureSummary, "artifacts" | "screenshot"> {
  const { artifacts: _, screenshot: __, ...facts } = capture;
  return facts;
}

export function verificationJson(result: VerificationResult, lang: Lang = "en"): VerificationJson {
  return {
    verdict: result.verdict,
    valid: result.valid,
    fileCompared: result.fileCompared,
    anchoredAt: result.anchoredAt,
    developmentChain: result.developmentChain,
    // Which certificate this is (in a list of many), when it could be read.
    ...(result.claims ? { id: result.claims.record.id } : {}),
    // What the certified manifest of a capture states; never the facts of one not certified.
    ...(result.capture ? { capture: captureFacts(result.capture) } : {}),
    checks: result.checks.map((c) => ({
      id: c.id,
      status: c.status,
      ok: c.status === "passed",
      detail: reasonText(c.reason, lang),
      reason: c.reason,
    })),
    timestamps: result.timestamps,
    warnings: result.warnings.map((w) => ({ code: w.code, detail: warningText(w, lang) })),
  };
}

/** Bytes in MiB, to one decimal place. */
function mebibytes(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
