import { closeSync, fstatSync, openAsBlob, openSync, readFileSync, readSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { Verdict, VerificationResult } from "../../core/verify/checks.ts";
import type { NotACertificate } from "../../core/verify/verify-evidence.ts";
import { foldedName, type ByteSource } from "../../core/capture-package.ts";
import { defineCommand } from "../command.ts";
import { firstLineOf } from "../../core/errors.ts";
import { EXIT, UsageError } from "../exit.ts";
import { sha256File } from "../../intake/file-digest.ts";
import { LineBuffer } from "../line-buffer.ts";
import { visibleText } from "../../core/visible-text.ts";
import { inOrder } from "../../in-order.ts";
import { MAX_DOCUMENT_BYTES } from "../../core/limits.ts";
import { MEDIA_TYPE_CAPTURE } from "../../core/api.ts";
import { TOO_LARGE_FOR_A_CERTIFICATE } from "../../core/verify/checks.ts";
import { typedDigest } from "../../core/schema.ts";

export const verify = defineCommand({
  name: "verify",
  summary: "verify certificates against the chain (needs no service)",
  usage: `Usage: evidence verify <certificate…|directory…> [--file F | --sha256 HEX | --files DIR]
                       [--rpc URL] [--contract A]… [--tsa-trust F] [--json] [--lang zh|en]

Checks certificates against the chain itself, over JSON-RPC, with no service involved.
A certificate is its JSON file (.evidence.json), its PDF document, or a web capture
package (.zip); a directory stands for every certificate in it (not in its subdirectories,
which are counted on stderr; its files that hold no certificate and claim none are passed
over, listed with the verdicts).
  --file F       the original file: its SHA-256 must equal the certified content hash
  --sha256 HEX   the file's SHA-256, when only the hash is at hand
  --files DIR    for many certificates: the original files, matched by their SHA-256, else
                 by the certified file name (a file of that name that differs is INVALID,
                 unless another certificate named proves it: VALID with that file); the files
                 no certificate matched are named on stderr
  --rpc URL      a node of the certificates' chain (default $EVIDENCE_RPC_URL or http://127.0.0.1:8545)
  --contract A   the consortium's anchor registry (repeatable): a certificate naming another
                 contract fails (without it, any EvidenceAnchor contract on the chain counts)
  --tsa-trust F  the time-stamp authorities' roots you trust, PEM (or one in DER) (none by default: a
                 token of another TSA is reported as not checkable, beside the verdict)
  --json         machine-readable: one object, or one line per certificate when there are many
  --lang zh|en   the language of the output (default: from LC_ALL / LANG)
Exit status: 0 valid, 1 invalid, 2 usage, 3 could not verify (a node unreachable, of
another chain, or behind). With many certificates, the worst of them. 141 when the
output's reader stops reading (| head).`,
  summaryZh: "对照区块链核验存证证书（无需服务）",
  usageZh: `用法：evidence verify <证书…|目录…> [--file F | --sha256 HEX | --files DIR]
                       [--rpc URL] [--contract A]… [--tsa-trust F] [--json] [--lang zh|en]

通过 JSON-RPC 直接对照区块链核验证书，不经过任何服务。
证书可以是其 JSON 文件（.evidence.json）、PDF 证书文件，或网页取证包（.zip）；
给出目录即核验其中所有证书（不含子目录，子目录个数在标准错误中说明；目录中既不是证书、
也未自称是证书的文件会被跳过，并随结论一并列出）。
  --file F       原始文件：其 SHA-256 必须等于证书所记载的内容哈希
  --sha256 HEX   手头只有哈希时，给出文件的 SHA-256
  --files DIR    核验多份证书时，原始文件所在的目录：先按 SHA-256 对应，否则按证书记载的
                 文件名对应（同名文件内容不同即为无效，除非所列的另一份证书证明了它：
                 它与那份证书一起有效）；未与任何证书对应的文件在标准错误中列出
  --rpc URL      证书所在区块链的一个节点（默认取 $EVIDENCE_RPC_URL，否则 http://127.0.0.1:8545）
  --contract A   联盟的锚定登记合约（可重复给出）：证书若指向其他合约即不通过
                 （不给出时，链上任何 EvidenceAnchor 合约都算数）
  --tsa-trust F  您所信任的时间戳机构根证书（PEM 文件，或单个 DER 证书）。默认不信任任何机构：
                 其他机构的时间戳令牌会在结论旁注明“无法检查”
  --json         机器可读：一个对象；证书多于一份时每份一行
  --lang zh|en   输出语言（默认依 LC_ALL / LANG 而定）
退出状态：0 有效，1 无效，2 用法有误，3 无法核验（节点无法连接、属于另一条链或尚未同步）。
证书多于一份时取其中最差者。输出的读取方停止读取时（| head）为 141。`,
  options: {
    file: { type: "string" },
    sha256: { type: "string" },
    files: { type: "string" },
    rpc: { type: "string" },
    json: { type: "boolean" },
    lang: { type: "string" },
    "tsa-trust": { type: "string" },
    contract: { type: "string", multiple: true },
  },
  async run({ values, positionals, lang, who }) {
    if (positionals.length === 0)
      throw new UsageError("name at least one certificate file or directory", "请至少给出一个证书文件或目录");
    const given = [values.file, values.sha256, values.files].filter((x) => x !== undefined).length;
    if (given > 1)
      throw new UsageError("give one of --file, --sha256 and --files", "--file、--sha256、--files 三者只能给出其一");
    // As the page takes it: 64 hex characters, with or without 0x.
    const sha256 = values.sha256 === undefined ? undefined : typedDigest(values.sha256);
    if (values.sha256 !== undefined && sha256 === undefined) {
      throw new UsageError(
        "--sha256 must be 64 hex characters (0x before them, or the line sha256sum prints, will do)",
        "--sha256 须为 64 个十六进制字符（前面带 0x，或 sha256sum 打印的整行，也可以）",
      );
    }
    if (values.file !== undefined) {
      const file = values.file;
      const isFile = await stat(file).then(
        (s) => s.isFile(),
        () => false,
      );
      if (!isFile)
        throw new UsageError(`--file ${file}: not a file that can be read`, `--file ${file}：不是可读取的文件`);
    }
    const { files: certificates, scanned } = await certificateFiles(
      positionals,
      values.files,
      (dir, { subdirectories, others }) => {
        if (subdirectories > 0) {
          console.error(
            lang === "zh-CN"
              ? `${who}：${dir} 中的 ${subdirectories} 个子目录未检查（要核验其中的证书，请将其一并列出）`
              : `${who}: ${dir}: ${subdirectories} subdirector${subdirectories === 1 ? "y" : "ies"} not searched (name ${subdirectories === 1 ? "it" : "them"} to verify the certificates inside)`,
          );
        }
        // A certificate saved under another name (.txt) would otherwise go unverified unsaid.
        if (others > 0) {
          console.error(
            lang === "zh-CN"
              ? `${who}：${dir} 中的 ${others} 个其他类型的文件未读取（证书文件为 .json、.pdf、.zip 或 .wacz；要核验某个文件，请直接列出）`
              : `${who}: ${dir}: ${others} file${others === 1 ? "" : "s"} of other kinds not read (certificates are .json, .pdf, .zip or .wacz files; name a file to verify it)`,
          );
        }
      },
    );
    if ((values.file !== undefined || values.sha256 !== undefined) && certificates.length !== 1) {
      throw new UsageError(
        "--file and --sha256 go with one certificate; use --files DIR for many",
        "--file 和 --sha256 只用于一份证书；多份证书请用 --files DIR",
      );
    }
    const rpc = values.rpc ?? process.env.EVIDENCE_RPC_URL ?? "http://127.0.0.1:8545";
    if (!/^https?:\/\/[^/]/i.test(rpc) || !URL.canParse(rpc)) {
      throw new UsageError(
        `--rpc ${JSON.stringify(rpc)}: not an http or https URL of a node`,
        `--rpc ${JSON.stringify(rpc)}：不是节点的 http 或 https 地址`,
      );
    }
    // Only the verifier's own modules: the core's index would also load ethers and the
    // contract artifact, which verification does not need (start-up is most of one run).
    const [
      { verifyEvidence, isZip, notACertificate, tooLargeForACertificate, statedContentHash },
      { CachingChainReader, JsonRpcChainReader, OutageReader },
      { lazyTimestampVerifier },
      wording,
      { verificationText },
      { sizeBaseTableForFewSignatures },
      { unreadableResult, malformedResult },
      { blobSource },
    ] = await Promise.all([
      import("../../core/verify/verify-evidence.ts"),
      import("../../core/chain-reader.ts"),
      import("../../core/verify/lazy-timestamps.ts"),
      import("../../core/verify/wording.ts"),
      import("../print-verification.ts"),
      import("../../core/issuer-signature.ts"),
      import("../../core/verify/verify-certificate.ts"),
      import("../../core/capture-package.ts"),
    ]);
    // Once the node has failed to answer, the rest of a bulk run says so at once instead of
    // waiting out one timeout per batch.
    const chain = new OutageReader().over(new CachingChainReader(new JsonRpcChainReader(rpc)));
    for (const address of values.contract ?? []) {
      if (!/^0x[0-9a-fA-F]{40}$/.test(address))
        throw new UsageError(`--contract ${address}: not an address`, `--contract ${address}：不是合约地址`);
    }
    const trustFile = values["tsa-trust"];
    let trustPem: string | undefined;
    if (trustFile !== undefined) {
      const file = await readFile(trustFile).catch(() => {
        throw new UsageError(`--tsa-trust ${trustFile}: cannot be read`, `--tsa-trust ${trustFile}：无法读取`);
      });
      // Read now, not at the first token: a bad file is the reader's mistake, not the tokens'.
      const { trustList } = await import("../../core/verify/timestamp-verifier.ts");
      const { trustBundleText } = await import("../../core/timestamp.ts");
      const pem = trustBundleText(file);
      try {
        trustList(pem);
      } catch (e) {
        throw new UsageError(
          `--tsa-trust ${trustFile}: not a PEM bundle of certificates (${firstLineOf(e)})`,
          `--tsa-trust ${trustFile}：不是 PEM 格式的证书集合（${firstLineOf(e)}）`,
        );
      }
      trustPem = pem;
    }
    const timestamps = lazyTimestampVerifier(() => trustPem);
    const originals = values.files !== undefined ? await hashDirectory(values.files) : undefined;
    const single = certificates.length === 1 && originals === undefined;
    if (certificates.length === 1) sizeBaseTableForFewSignatures();
    // With --files, each certificate is compared with the file of its certified hash, if DIR
    // has one; failing that, with the file of its certified name, if DIR has one, so that an
    // original altered since is INVALID in a folder as it is alone (--file). Only a file that
    // another certificate of the run proves (VALID with that file: another version, or another
    // file of the same name) is taken for that one's: this certificate's file is then not
    // compared, and that file is named beside it. A certificate that merely states the file's
    // hash proves nothing. A capture's file is its package, never looked up by name.
    const comparedDigests = new Set<string>();
    let statedInRun: Promise<Map<string, string[]>> | undefined;
    const proven = new Map<string, Promise<boolean>>();
    /** Whether a certificate of the run that states `digest` verifies VALID with the file of that hash. */
    const provenByAnother = (digest: string, stating: readonly string[]): Promise<boolean> => {
      let answer = proven.get(digest);
      if (answer === undefined) {
        answer = (async () => {
          for (const file of stating) {
            const result = await verifyFile(file, digest);
            if (!("skipped" in result) && result.verdict === "valid" && result.fileCompared) return true;
          }
          return false;
        })();
        proven.set(digest, answer);
      }
      return answer;
    };
    const namesakeOf = (record: { fileName?: string | undefined; mediaType?: string | undefined } | undefined) =>
      record?.fileName !== undefined && record.mediaType !== MEDIA_TYPE_CAPTURE
        ? (originals!.byName.get(record.fileName) ?? originals!.byFoldedName.get(foldedName(record.fileName)))
        : undefined;
    const originalOf = async (
      certified: string,
      record?: { fileName?: string | undefined; mediaType?: string | undefined },
    ): Promise<string | undefined> => {
      let original = originals!.byHash.get(certified);
      const namesake = original ? undefined : namesakeOf(record);
      if (namesake) {
        statedInRun ??= hashesStatedIn(certificates, { statedContentHash, isZip, blobSource });
        const stating = (await statedInRun).get(namesake.digest);
        if (!stating || !(await provenByAnother(namesake.digest, stating))) original = namesake;
      }
      if (original) comparedDigests.add(original.digest);
      return original?.digest;
    };
    /** The file of DIR the certificate was compared with, or the namesake another certificate's file is. */
    const originalFor = (
      result: VerificationResult,
    ): { file: string; by: "hash" | "name" | "another's" } | undefined => {
      const record = result.claims?.record;
      if (!originals || !record) return;
      const byHash = originals.byHash.get(record.contentHash);
      if (byHash) return result.fileCompared ? { file: byHash.file, by: "hash" } : undefined;
      const namesake = namesakeOf(record);
      if (!namesake) return;
      return { file: namesake.file, by: result.fileCompared ? "name" : "another's" };
    };
    // A capture package handed over as the file is compared as a package, not by its bytes' hash.
    const packageFile =
      values.file !== undefined && isZip(headOf(values.file)) ? blobSource(await openAsBlob(values.file)) : undefined;
    // (A package's own hash goes with it: a ZIP may be certified as it is.)
    const fileDigest: string | typeof originalOf | undefined =
      values.file !== undefined
        ? await sha256File(values.file)
        : sha256 !== undefined
          ? sha256
          : originals && originalOf;

    let worst: Verdict = "valid";
    const tally: Record<Verdict, number> = { valid: 0, invalid: 0, indeterminate: 0 };
    // With --files, a certificate whose file is not in DIR is valid as a certificate, but its
    // file was not compared: the summary says how many, so none passes for a file match.
    let notCompared = 0;
    let comparedByName = 0;
    let othersFiles = 0;
    const rows: string[][] = [];
    const out = new LineBuffer();
    // Read synchronously: certificates are small, and a synchronous read costs a fraction of
    // the four thread-pool round trips of an asynchronous one (a bulk run reads thousands).
    // A file that cannot be read (no permission, gone, a directory, a device) could not be
    // verified: said for that file, and the others are verified as ever.
    /** A certificate file's verdict, with the original of `digest` when given (else as the command was asked). */
    const verifyFile = async (
      file: string,
      digest?: string,
    ): Promise<VerificationResult | { skipped: NotACertificate }> => {
      let bytes: Uint8Array | ByteSource;
      try {
        const held = readCertificateFile(file, isZip);
        if (held === "too-large") {
          // An original beside the certificates (a long scan as a PDF, say) is passed over;
          // named on its own, or named as a certificate, it is a file of another kind.
          const skipped = scanned.has(file) ? tooLargeForACertificate(path.basename(file)) : undefined;
          return skipped ? { skipped } : malformedResult(TOO_LARGE_FOR_A_CERTIFICATE);
        }
        // A capture package too large to hold (a long video) is read by ranges.
        bytes = held instanceof Uint8Array ? held : blobSource(await openAsBlob(file));
      } catch (e) {
        return unreadableResult(firstLineOf(e));
      }
      // Found in a folder beside originals, a file that holds no certificate is passed over, said so.
      const skipped = scanned.has(file) ? await notACertificate(path.basename(file), bytes) : undefined;
      if (skipped) return { skipped };
      return verifyEvidence(
        bytes instanceof Uint8Array ? { kind: "bytes", bytes } : { kind: "package", package: bytes },
        {
          chain,
          timestamps,
          ...(digest !== undefined ? { fileDigest: digest } : fileDigest ? { fileDigest } : {}),
          ...(sha256 !== undefined ? { digestGiven: true } : {}),
          ...(packageFile ? { packageFile } : {}),
          ...(values.contract ? { trustedContracts: values.contract } : {}),
        },
      );
    };
    // Several files are read and verified at once, so reading and the first chain reads of
    // a batch overlap; results are reported in the order of the files.
    const passedOver: [string, NotACertificate][] = [];
    const zh = lang === "zh-CN";
    /** Each warning the table's certificates carry, in words, and the certificates that carry it. */
    const warned = new Map<string, string[]>();
    for await (const [file, result] of inOrder(certificates, (file) => verifyFile(file), 16)) {
      if ("skipped" in result) {
        // Listed with the verdicts, not only on stderr: nothing in the folder goes unmentioned.
        passedOver.push([file, result.skipped]);
        const why = SKIPPED[result.skipped][zh ? 1 : 0];
        if (values.json) await out.line(JSON.stringify({ certificate: file, passedOver: result.skipped, detail: why }));
        else rows.push(["—", "—", path.basename(file), "—", `${zh ? "未核验：" : "passed over: "}${why}`]);
        continue;
      }
      tally[result.verdict]++;
      if (!result.fileCompared) notCompared++;
      const original = originalFor(result);
      if (original?.by === "name") comparedByName++;
      if (original?.by === "another's") othersFiles++;
      worst = worse(worst, result.verdict);
      if (values.json) {
        const json = wording.verificationJson(result, lang);
        const named =
          original === undefined
            ? {}
            : original.by === "another's"
              ? { fileOfCertifiedNameIsAnothers: original.file }
              : { original: original.file, originalFoundBy: original.by };
        await out.line(
          single ? JSON.stringify(json, null, 2) : JSON.stringify({ certificate: file, ...json, ...named }),
        );
      } else if (single) {
        await out.line(verificationText(result, { lang, rpc, source: file }));
      } else {
        for (const warning of result.warnings) {
          const text = wording.warningText(warning, lang);
          warned.set(text, [...(warned.get(text) ?? []), result.claims?.record.id ?? path.basename(file)]);
        }
        const failed = result.checks.filter(
          (c) => c.status === "failed" || (c.status === "error" && c.id !== "timestamp"),
        );
        rows.push([
          wording.VERDICT_NAMES[result.verdict][lang],
          result.claims?.record.id ?? "—",
          path.basename(file),
          fileColumn(original, result.fileCompared, zh),
          failed
            .map(
              // A failure in words, as a mediator reads it (the hashes are in --json and in a
              // single certificate's report); what was wrong with a format, or why a check
              // could not be made, is its detail.
              (c) =>
                `${wording.CHECK_NAMES[c.id][lang]}${lang === "zh-CN" ? "：" : ": "}${
                  c.status === "failed" && c.id !== "format"
                    ? wording.checkSentence(c, lang)
                    : wording.reasonText(c.reason, lang)
                }`,
            )
            .join(lang === "zh-CN" ? "；" : "; "),
        ]);
      }
    }
    const verified = certificates.length - passedOver.length;
    if (verified === 0) throw new UsageError("no certificate among the files found", "所找到的文件中没有证书");
    if (originals) {
      // The certificates verified are no originals, when the two folders are one.
      const skippedFiles = new Set(passedOver.map(([file]) => path.resolve(file)));
      const verifiedFiles = new Set(certificates.map((f) => path.resolve(f)).filter((f) => !skippedFiles.has(f)));
      const unmatched = [...originals.byName.values()]
        .filter((o) => !comparedDigests.has(o.digest) && !verifiedFiles.has(path.resolve(o.file)))
        .map((o) => o.file);
      if (unmatched.length > 0) {
        const names = unmatched.slice(0, 10).map((f) => visibleText(path.basename(f)));
        const more = unmatched.length > 10 ? (zh ? " 等" : ", …") : "";
        console.error(
          zh
            ? `${who}：${values.files} 中有 ${unmatched.length} 个文件与任何证书都不对应：${names.join("，")}${more}`
            : `${who}: ${unmatched.length} file${unmatched.length === 1 ? "" : "s"} in ${values.files} matched no certificate: ${names.join(", ")}${more}`,
        );
      }
    }
    if (!values.json && !single) {
      await printTable(out, [
        zh ? ["结论", "编号", "证书", "文件", "原因"] : ["verdict", "id", "certificate", "file", "reason"],
        ...rows,
      ]);
      await out.line(
        zh
          ? `\n共 ${verified} 份：有效 ${tally.valid}，无效 ${tally.invalid}，无法验证 ${tally.indeterminate}${originals ? `${comparedByName ? `；${comparedByName} 份按证书所记文件名比对，文件内容不同` : ""}；${notCompared} 份在 ${values.files} 中没有对应文件，未比对文件${othersFiles ? `（其中 ${othersFiles} 份的同名文件是另一份证书的文件）` : ""}` : ""}${passedOver.length ? `；${passedOver.length} 个文件不含证书，未核验` : ""}（节点 ${rpc}）`
          : `\n${verified} certificate${verified === 1 ? "" : "s"}: ${tally.valid} valid, ${tally.invalid} invalid, ${tally.indeterminate} could not be verified${originals ? `${comparedByName ? `; ${comparedByName} compared with the file of their certified name, which differs` : ""}; ${notCompared} with no file in ${values.files} to compare${othersFiles ? ` (${othersFiles} whose file of the certified name is another certificate's)` : ""}` : ""}${passedOver.length ? `; ${passedOver.length} file${passedOver.length === 1 ? "" : "s"} holding no certificate passed over` : ""} (node ${rpc})`,
      );
    }
    // The table has no room for warnings: each is said once below it, with the certificates it is of.
    for (const [text, ids] of warned) {
      const named = `${ids.slice(0, 5).join(zh ? "，" : ", ")}${ids.length > 5 ? (zh ? " 等" : ", …") : ""}`;
      await out.line(
        zh
          ? `警告（${ids.length} 份：${named}）：${visibleText(text)}`
          : `WARNING (${ids.length}: ${named}): ${visibleText(text)}`,
      );
    }
    await out.flush();
    return worst === "valid" ? EXIT.ok : worst === "invalid" ? EXIT.failed : EXIT.indeterminate;
  },
});

/** What a passed-over file is, in English and Chinese. */
const SKIPPED: Record<NotACertificate, [string, string]> = {
  empty: ["an empty file", "空文件"],
  "pdf-without-certificate": ["a PDF with no certificate attached", "未附证书的 PDF"],
  "pdf-unreadable": [
    "a PDF this verifier cannot read that names no Evidence Anchor certificate",
    "本验证程序无法读取、且未提及 Evidence Anchor 证书的 PDF",
  ],
  "zip-not-a-package": ["a ZIP that is no capture package", "不是网页取证包的 ZIP"],
  "json-not-a-certificate": ["JSON that is no certificate", "不是证书的 JSON"],
  "too-large": [
    `a file larger than ${MAX_DOCUMENT_BYTES / 1024 / 1024} MB that is no ZIP`,
    `大于 ${MAX_DOCUMENT_BYTES / 1024 / 1024} MB 且不是 ZIP 的文件`,
  ],
};

/** The table's file column: which file of --files DIR a certificate was compared with, if any. */
function fileColumn(
  original: { file: string; by: "hash" | "name" | "another's" } | undefined,
  fileCompared: boolean,
  zh: boolean,
): string {
  const name = original && path.basename(original.file);
  if (original?.by === "name") return zh ? `同名文件 ${name}` : `${name} (by its name)`;
  if (original?.by === "another's") return zh ? `— 同名文件 ${name} 属于另一份证书` : `— ${name} is another's`;
  if (fileCompared) return zh ? "已比对" : "compared";
  return "—";
}

/**
 * The content hashes the certificate files state, unverified, each with the files that state
 * it: which originals a run's certificates speak of. Files that cannot be read, or hold no
 * certificate, state none.
 */
async function hashesStatedIn(
  files: readonly string[],
  core: {
    statedContentHash: typeof import("../../core/verify/verify-evidence.ts").statedContentHash;
    isZip: (head: Uint8Array) => boolean;
    blobSource: (blob: Blob) => ByteSource;
  },
): Promise<Map<string, string[]>> {
  const hashes = new Map<string, string[]>();
  for (const file of files) {
    try {
      const held = readCertificateFile(file, core.isZip);
      if (held === "too-large") continue;
      const hash = await core.statedContentHash(
        held instanceof Uint8Array
          ? { kind: "bytes", bytes: held }
          : { kind: "package", package: core.blobSource(await openAsBlob(file)) },
      );
      if (hash !== undefined) hashes.set(hash, [...(hashes.get(hash) ?? []), file]);
    } catch {
      // Unreadable here, and said so where it is verified.
    }
  }
  return hashes;
}

function worse(a: Verdict, b: Verdict): Verdict {
  const rank: Record<Verdict, number> = { valid: 0, indeterminate: 1, invalid: 2 };
  return rank[b] > rank[a] ? b : a;
}

const CERTIFICATE_FILE = /\.(evidence\.json|json|pdf|zip|wacz)$/i;

/**
 * The certificate files named, with each directory standing for the certificates in it (not
 * in its subdirectories: `skipped` is told of those, so that none is passed over unsaid).
 */
async function certificateFiles(
  names: string[],
  /** The --files directory: its files of other kinds are read, as originals. */
  originals: string | undefined,
  skipped: (dir: string, unread: { subdirectories: number; others: number }) => void,
): Promise<{ files: string[]; scanned: Set<string> }> {
  const files: string[] = [];
  /** The files found in a directory rather than named: those that hold no certificate are passed over. */
  const scanned = new Set<string>();
  for (const name of names) {
    let info;
    try {
      info = await stat(name);
    } catch {
      throw new UsageError(`${name}: no such file or directory`, `${name}：没有这个文件或目录`);
    }
    if (info.isDirectory()) {
      const all = await readdir(name, { withFileTypes: true });
      // An entry named as a certificate is one, whatever it is (unreadable: could not verify).
      const entries = all
        .filter((e) => CERTIFICATE_FILE.test(e.name))
        .map((e) => e.name)
        .sort();
      for (const entry of entries) {
        files.push(path.join(name, entry));
        scanned.add(path.join(name, entry));
      }
      const subdirectories = all.filter((e) => e.isDirectory() && !CERTIFICATE_FILE.test(e.name)).length;
      const asOriginals = originals !== undefined && path.resolve(originals) === path.resolve(name);
      const others = asOriginals ? 0 : all.filter((e) => e.isFile() && !CERTIFICATE_FILE.test(e.name)).length;
      if (subdirectories + others > 0) skipped(name, { subdirectories, others });
    } else files.push(name);
  }
  if (files.length === 0) throw new UsageError("no certificate files found", "没有找到证书文件");
  // A file named is a certificate to verify, even when a folder named beside it holds it too.
  for (const name of names) scanned.delete(name);
  return { files, scanned };
}

/** The SHA-256 of every file in a directory, by hash, by name and by folded name (the first file of each). */
async function hashDirectory(
  dir: string,
): Promise<{ byHash: Map<string, Original>; byName: Map<string, Original>; byFoldedName: Map<string, Original> }> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    throw new UsageError(`--files ${dir}: not a readable directory`, `--files ${dir}：不是可读取的目录`);
  }
  const byHash = new Map<string, Original>();
  const byName = new Map<string, Original>();
  const byFoldedName = new Map<string, Original>();
  for (const e of entries) {
    if (!e.isFile()) continue;
    const original = { file: path.join(dir, e.name), digest: await sha256File(path.join(dir, e.name)) };
    if (!byHash.has(original.digest)) byHash.set(original.digest, original);
    byName.set(e.name, original);
    const folded = foldedName(e.name);
    if (!byFoldedName.has(folded)) byFoldedName.set(folded, original);
  }
  return { byHash, byName, byFoldedName };
}

/** A file of the --files directory. */
interface Original {
  file: string;
  digest: string;
}

async function printTable(out: LineBuffer, table: string[][]): Promise<void> {
  // Names and reasons come from files and certificates: shown, never obeyed by the terminal.
  const rows = table.map((row) => row.map(visibleText));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => width(r[i] ?? ""))));
  for (const row of rows) {
    await out.line(
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat(widths[i]! - width(cell) + 2)))
        .join("")
        .trimEnd(),
    );
  }
}

function width(text: string): number {
  let w = 0;
  for (const ch of text) w += ch.charCodeAt(0) > 0x2e80 ? 2 : 1;
  return w;
}

/** The first four bytes of a file (fewer when it is shorter): enough to tell a ZIP. */
function headOf(file: string): Uint8Array {
  const fd = openSync(file, "r");
  try {
    const head = new Uint8Array(4);
    return head.subarray(0, readSync(fd, head, 0, 4, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * A certificate file's bytes, read synchronously (certificates are small, and a bulk run
 * reads thousands); "package" for a ZIP too large to hold, which is read by ranges; and
 * "too-large" for any other file larger than 64 MB, which is read no further. Throws for
 * anything but a regular file: a device or a pipe (/dev/zero) would be read forever.
 */
function readCertificateFile(file: string, isZip: (head: Uint8Array) => boolean): Uint8Array | "package" | "too-large" {
  const fd = openSync(file, "r");
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new Error(`${file} is not a regular file`);
    if (info.size > MAX_DOCUMENT_BYTES) {
      const head = new Uint8Array(4);
      return readSync(fd, head, 0, 4, 0) === 4 && isZip(head) ? "package" : "too-large";
    }
    return new Uint8Array(readFileSync(fd));
  } finally {
    closeSync(fd);
  }
}
