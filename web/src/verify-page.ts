import qrcode from "qrcode-generator";
import {
  CHECK_NAMES,
  isWebUrl,
  blobSource,
  isZip,
  JsonRpcChainReader,
  SERVICE_NODE_LABEL,
  STATUS_NAMES,
  problemText,
  type Problem,
  lazyTimestampVerifier,
  certificateFailed,
  checkSentence,
  UNPROVEN_FACTS,
  visibleText,
  httpStatusText,
  reasonText,
  sizeBaseTableForFewSignatures,
  timeText,
  timestampStatusNote,
  typedDigest,
  verdictExplanation,
  verdictHeadline,
  verifyEvidence,
  warningText,
  type ByteSource,
  type EvidenceInput,
  type VerificationResult,
} from "../../service/core/index.ts";
import { byId, byteCount, dropZone, el, formatBytes } from "./dom.ts";
import { hashFile as hashInWorker } from "./file-hash.ts";
import { applyLanguage, lang, MessageLine, setUpLanguageSwitch, t, type MessageKey } from "./i18n.ts";
import { siteInfo } from "./site.ts";

// A reader checks one certificate at a time.
sizeBaseTableForFewSignatures();

const certText = byId<HTMLTextAreaElement>("cert-text");
const certFile = byId<HTMLInputElement>("cert-file");
const certName = byId<HTMLOutputElement>("cert-name");
const evidenceFile = byId<HTMLInputElement>("evidence-file");
const sha256Input = byId<HTMLInputElement>("sha256");
const rpcInput = byId<HTMLInputElement>("rpc");
const errorLine = new MessageLine(byId<HTMLParagraphElement>("error"));
const fileHash = byId<HTMLOutputElement>("file-hash");

/** The hash of the chosen original file, under way or done. */
let fileDigest: Promise<string | undefined> = Promise.resolve(undefined);
/** A certificate chosen as a file: its bytes, or a capture package read by ranges. */
let certificateBytes: Uint8Array | ByteSource | undefined;
/** The evidence id when the certificate came from this service (`?id=`). */
let serviceId: string | undefined;
let last: { result: VerificationResult; rpc: string; at: Date } | undefined;

applyLanguage();
setUpLanguageSwitch(byId("lang"), () => {
  if (last) render(last.result, last.rpc, last.at);
  errorLine.render();
});
rpcInput.placeholder = new URL("/rpc", location.href).href;
rpcInput.addEventListener("input", clearResult);
byId("tsa-trust").addEventListener("input", clearResult);

// What a verification needs is fetched while the reader chooses the files: the site's facts,
// and the RFC 3161 verifier (the largest chunk, kept out of the page's first load).
void siteInfo();
const warm = () => void import("../../service/core/verify/timestamp-verifier.ts").catch(() => undefined);
if ("requestIdleCallback" in window) requestIdleCallback(warm, { timeout: 2_000 });
else setTimeout(warm, 500);

dropZone(byId("cert-drop"), certFile, (files) => void chooseCertificate(files[0]));
certText.addEventListener("input", () => {
  clearResult();
  certificateBytes = undefined;
  certName.value = "";
});

/** The bytes as UTF-8 text (a byte order mark dropped), or undefined when they are not UTF-8. */
function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * A certificate file: JSON goes into the text box; a PDF is kept as bytes; a capture package,
 * which a long video can make larger than a page may hold, is read by ranges when verified.
 */
async function chooseCertificate(file: File | undefined): Promise<void> {
  if (!file) return;
  clearResult();
  if (await isZipFile(file)) {
    certificateBytes = blobSource(file);
    certText.value = "";
    certName.value = `${file.name} (${formatBytes(file.size)})`;
    return;
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  const isText = bytes[0] === 0x7b || bytes[0] === 0x20 || bytes[0] === 0x0a || bytes[0] === 0xef;
  // Only UTF-8 goes into the text box: a decoder that puts U+FFFD in place of other bytes would
  // let a certificate whose record held U+FFFD verify with other bytes there. Any other file is
  // verified as its bytes, which the core refuses as not UTF-8 text (protocol §8.1).
  const text = isText ? utf8Text(bytes) : undefined;
  if (text !== undefined) {
    certificateBytes = undefined;
    certText.value = text;
    certName.value = "";
  } else {
    certificateBytes = bytes;
    certText.value = "";
    certName.value = `${file.name} (${formatBytes(file.size)})`;
  }
}

// The original file is hashed here, in chunks, with progress; it is never uploaded. A file
// and a typed hash exclude each other, so it is never in doubt which one was compared.
evidenceFile.addEventListener("change", () => {
  clearResult();
  const file = evidenceFile.files?.[0];
  if (file) sha256Input.value = "";
  chooseOriginal(file);
});
sha256Input.addEventListener("input", () => {
  clearResult();
  if (sha256Input.value.trim() && evidenceFile.files?.length) {
    evidenceFile.value = "";
    chooseOriginal(undefined);
  }
});

/** The hashing under way: a file chosen later stops it, so only the last file's hash is ever shown. */
let hashing: AbortController | undefined;

function chooseOriginal(file: File | undefined): void {
  hashing?.abort();
  hashing = file ? new AbortController() : undefined;
  fileHash.value = "";
  byId<HTMLDivElement>("hashing").hidden = true;
  fileDigest = file ? hashFile(file, hashing!.signal) : Promise.resolve(undefined);
  // A stopped hashing is no error; its promise is replaced and never awaited.
  fileDigest.catch(() => undefined);
}

async function hashFile(file: File, signal: AbortSignal): Promise<string> {
  const box = byId<HTMLDivElement>("hashing");
  const bar = byId<HTMLProgressElement>("hash-progress");
  box.hidden = false;
  bar.value = 0;
  const digest = await hashInWorker(file, (n) => (bar.value = file.size === 0 ? 1 : n / file.size), signal);
  bar.value = 1;
  box.hidden = true;
  fileHash.value = `SHA-256 ${digest}`;
  return digest;
}

byId("verify").addEventListener("click", () => void run());
byId("print").addEventListener("click", () => window.print());
byId("again").addEventListener("click", () => {
  clearResult();
  certText.value = "";
  certFile.value = "";
  certName.value = "";
  certificateBytes = undefined;
  serviceId = undefined;
  evidenceFile.value = "";
  sha256Input.value = "";
  chooseOriginal(undefined);
  byId<HTMLElement>("inputs").scrollIntoView();
});

/** How many times the inputs have changed (or been checked again): a verification begun before is not shown. */
let inputsChanged = 0;

/** No verdict stays on screen once the inputs it was given for are being changed or checked again. */
function clearResult(): void {
  inputsChanged++;
  byId<HTMLElement>("result").hidden = true;
  last = undefined;
  errorLine.clear();
}

// /verify?id=… (the QR code on a printed certificate): fetch and check at once.
const id = new URLSearchParams(location.search).get("id");
if (id) void loadById(id);

async function loadById(evidenceId: string): Promise<void> {
  try {
    const res = await fetch(`/api/v1/evidence/${encodeURIComponent(evidenceId)}/certificate`);
    if (!res.ok) {
      const problem = (await res.json().catch(() => undefined)) as Partial<Problem> | undefined;
      errorLine.set(() => t("verify.loadFailed") + problemText(problem, lang(), res.statusText));
      return;
    }
    certText.value = await res.text();
    serviceId = evidenceId;
  } catch (e) {
    errorLine.set(() => t("verify.loadFailed") + (e as Error).message);
    return;
  }
  await run();
}

async function run(): Promise<void> {
  clearResult();
  // As pasted: the verifier reads the text as the API and the CLI do (protocol §5.1), where
  // trim() would also drop what JSON does not take as whitespace (U+FEFF, U+3000).
  const text = certText.value;
  if (!text.trim() && !certificateBytes) {
    errorLine.set(() => t("verify.noCertificate"));
    return;
  }
  const typed = sha256Input.value.trim();
  if (typed && typedDigest(typed) === undefined) {
    errorLine.set(() => t("verify.badSha256"));
    return;
  }
  // A trust list that cannot be read is the reader's to fix before verifying, as the CLI's
  // --tsa-trust is: read after, it would pass a token off as from an untrusted authority.
  const trustPem = byId<HTMLTextAreaElement>("tsa-trust").value.trim();
  if (trustPem && !(await readableTrustList(trustPem))) {
    errorLine.set(() => t("verify.badTrust"));
    return;
  }
  const ownNode = rpcInput.value.trim() === "";
  if (!ownNode && !isWebUrl(rpcInput.value.trim())) {
    errorLine.set(() => t("verify.badNode"));
    return;
  }
  const rpc = rpcInput.value.trim() || new URL("/rpc", location.href).href;
  const button = byId<HTMLButtonElement>("verify");
  button.disabled = true;
  const verifying = () => t("verify.verifying");
  errorLine.set(verifying);
  try {
    const original = evidenceFile.files?.[0];
    const digest = original ? await fileDigest : typed ? typedDigest(typed) : undefined;
    await verifyAndRender(
      text,
      digest === undefined ? undefined : { digest, given: !original },
      original && (await capturePackageIn(original)),
      rpc,
      ownNode,
    );
  } catch (e) {
    errorLine.set(() => (e as Error).message);
  } finally {
    button.disabled = false;
    if (errorLine.shows(verifying)) errorLine.clear();
  }
}

/** Whether the pasted text is a PEM bundle of certificates (loads the RFC 3161 code, as verifying a token does). */
async function readableTrustList(pem: string): Promise<boolean> {
  const { trustList } = await import("../../service/core/verify/timestamp-verifier.ts");
  try {
    return trustList(pem).length > trustList(undefined).length;
  } catch {
    return false;
  }
}

/** A chosen original that is a capture package (compared as a package, of any size), or undefined. */
async function capturePackageIn(file: File): Promise<ByteSource | undefined> {
  return (await isZipFile(file)) ? blobSource(file) : undefined;
}

async function isZipFile(file: File): Promise<boolean> {
  return isZip(new Uint8Array(await file.slice(0, 4).arrayBuffer()));
}

async function verifyAndRender(
  text: string,
  /** The original's SHA-256; `given` when it was typed, not computed from a file chosen. */
  digest: { digest: string; given: boolean } | undefined,
  packageFile: ByteSource | undefined,
  rpc: string,
  ownNode: boolean,
): Promise<void> {
  const asked = inputsChanged;
  const input: EvidenceInput =
    certificateBytes === undefined
      ? { kind: "certificate", certificate: text }
      : certificateBytes instanceof Uint8Array
        ? { kind: "bytes", bytes: certificateBytes }
        : { kind: "package", package: certificateBytes };
  const site = await siteInfo();
  const result = await verifyEvidence(input, {
    // Through this service's proxy, the node is the service's own, named as such.
    chain: new JsonRpcChainReader(rpc, ownNode ? { label: SERVICE_NODE_LABEL } : {}),
    developmentChainIds: site.developmentChainIds,
    // Time-stamp tokens are checked against the roots the reader pasted, and no others.
    timestamps: lazyTimestampVerifier(() => byId<HTMLTextAreaElement>("tsa-trust").value.trim() || undefined),
    // On the service's chain, its registry is the one to trust, whichever node is read: a
    // node without it is of another chain that shares the id. Certificates of other chains
    // are the reader's to judge.
    trustedContracts: (chainId) => {
      return site.contracts && chainId === site.chainId ? site.contracts : undefined;
    },
    // A package chosen as the original goes with its own hash: a ZIP may be certified as it is.
    ...(packageFile !== undefined ? { packageFile } : {}),
    ...(digest !== undefined ? { fileDigest: digest.digest, digestGiven: digest.given } : {}),
  });
  // The inputs changed while it ran (a certificate edited, another hash typed): its verdict is
  // of what is no longer shown, and is not rendered beside it.
  if (asked !== inputsChanged) return;
  last = { result, rpc, at: new Date() };
  render(result, rpc, last.at);
}

function render(result: VerificationResult, rpc: string, at: Date): void {
  const section = byId<HTMLElement>("result");
  section.hidden = false;
  section.dataset.verdict = result.verdict;
  const l = lang();
  const verdict = byId<HTMLHeadingElement>("verdict");
  // Everything written from a result may hold text of the certificate's or the package's (a
  // file name, a title, a URL, an issuer's name): its invisible characters (bidirectional
  // overrides, zero-width ones, controls) are written out as [U+XXXX], as the CLI and the
  // certificate document write them, so none can reorder or hide what a reader sees.
  verdict.textContent = visibleText(verdictHeadline(result, l));
  verdict.className = result.verdict;
  byId("verdict-box").className = `verdict ${result.verdict}`;
  byId("verdict-text").textContent = visibleText(verdictExplanation(result, l));
  byId("warnings").replaceChildren(
    ...result.warnings.map((w) => el("li", visibleText(warningText(w, l)), { "data-warning": w.code })),
  );

  byId<HTMLOListElement>("checks").replaceChildren(
    ...result.checks.map((check) => {
      const item = el("li", undefined, { class: check.status, "data-check": check.id });
      item.append(
        el("strong", `${CHECK_NAMES[check.id][l]}: ${STATUS_NAMES[check.status][l]}`),
        " — ",
        visibleText(checkSentence(check, l)),
        el("span", visibleText(reasonText(check.reason, l)), { class: "detail" }),
      );
      return item;
    }),
  );
  void renderSummary(result);
  renderCapture(result);
  renderContext(result, rpc, at);
  renderQr(result);
  section.focus({ preventScroll: true });
  section.scrollIntoView({ block: "start" });
}

/** The facts of the certificate, as on its PDF document. */
async function renderSummary(result: VerificationResult): Promise<void> {
  const summary = byId<HTMLDListElement>("summary");
  const note = byId("unproven");
  summary.replaceChildren();
  note.hidden = true;
  const c = result.claims;
  if (!c) return;
  const l = lang();
  const site = await siteInfo();
  // A newer verification rendered while the site's facts were awaited: its summary stands.
  if (last?.result !== result) return;
  summary.replaceChildren();
  // The facts of a certificate that failed are its own claims: said so above them, and shown faded.
  const unproven = certificateFailed(result);
  note.hidden = !unproven;
  note.textContent = unproven ? UNPROVEN_FACTS[l] : "";
  summary.classList.toggle("unproven", unproven);
  const rows: [MessageKey, string][] = [["verify.id", c.record.id]];
  if (result.capture) {
    const { url, finalUrl, status, startedAt } = result.capture;
    const captured = timeText(new Date(startedAt), l);
    rows.push(["verify.capturedUrl", url]);
    if (finalUrl !== url) rows.push(["verify.finalUrl", finalUrl]);
    if (status !== undefined) rows.push(["verify.httpStatus", httpStatusText(status, l)]);
    rows.push(["verify.capturedAt", captured.both]);
  }
  if (result.anchoredAt) {
    const time = timeText(new Date(result.anchoredAt), l);
    rows.push(["verify.anchoredLocal", time.local], ["verify.anchoredUtc", time.utc]);
  }
  if (c.record.title) rows.push(["verify.title.field", c.record.title]);
  if (c.record.fileName) rows.push(["verify.fileName", c.record.fileName]);
  if (c.record.size !== undefined) {
    const bytes = byteCount(c.record.size);
    rows.push([
      "verify.size",
      formatBytes(c.record.size) === bytes ? bytes : `${formatBytes(c.record.size)} (${bytes})`,
    ]);
  }
  if (c.record.mediaType) rows.push(["verify.mediaType", c.record.mediaType]);
  if (c.record.sourceUrl) rows.push(["verify.sourceUrl", c.record.sourceUrl]);
  rows.push(["verify.contentHash", c.record.contentHash]);
  const submitted = timeText(new Date(c.record.submittedAt), l);
  rows.push(["verify.submittedAt", submitted.both]);
  const chainName = site.chainNames[c.anchor.chainId];
  rows.push(
    ["verify.chain", chainName ? `${c.anchor.chainId} — ${chainName}` : String(c.anchor.chainId)],
    ["verify.contract", c.anchor.contract],
    ["verify.block", String(c.anchor.blockNumber)],
    ["verify.tx", c.anchor.txHash],
    [
      "verify.issuer",
      l === "zh-CN" ? `${c.issuer.name}（${c.issuer.address}）` : `${c.issuer.name} (${c.issuer.address})`,
    ],
  );
  for (const ts of result.timestamps) {
    const time = timeText(new Date(ts.time), l);
    rows.push([
      "verify.timestamp",
      `${ts.tsa}${l === "zh-CN" ? "：" : ": "}${time.both}${timestampStatusNote(ts.status, l)}`,
    ]);
  }
  for (const [key, value] of rows)
    summary.append(el("dt", t(key)), el("dd", visibleText(value), { "data-field": key }));
}

/** A capture package: its screenshot beside the verdict, when it is unaltered. */
function renderCapture(result: VerificationResult): void {
  const box = byId<HTMLDivElement>("capture-preview");
  const img = byId<HTMLImageElement>("capture-screenshot");
  const screenshot = result.capture?.screenshot;
  box.hidden = !screenshot;
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  if (!screenshot) return;
  img.src = URL.createObjectURL(new Blob([screenshot as Uint8Array<ArrayBuffer>], { type: "image/png" }));
  img.alt = visibleText(result.capture!.url);
}

/** When and against which node this verification was made (printed with it). */
function renderContext(result: VerificationResult, rpc: string, at: Date): void {
  const l = lang();
  const time = timeText(at, l);
  const rows: [MessageKey, string][] = [
    ["verify.verifiedAt", time.both],
    ["verify.nodeUsed", rpc],
    [
      "verify.fileCompared",
      t(
        result.fileCompared
          ? "verify.yes"
          : packageOnly(result)
            ? "verify.packageOnly"
            : result.checks.find((c) => c.id === "format")?.status === "passed"
              ? "verify.no"
              : "verify.noUnreadable",
      ),
    ],
  ];
  byId("context").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", t(k)), el("dd", v, { "data-field": k })]));
}

/** A capture package checked alone: its own manifest was the file compared. */
function packageOnly(result: VerificationResult): boolean {
  const code = result.checks.find((c) => c.id === "content")?.reason.code;
  return code === "content.package" || code === "content.package-mismatch";
}

/** The QR code, print button and PDF link belong to a valid certificate only. */
function renderQr(result: VerificationResult): void {
  const valid = result.verdict === "valid" && result.claims !== null;
  byId<HTMLElement>("qr-figure").hidden = !valid;
  byId<HTMLButtonElement>("print").hidden = !valid;
  const pdf = byId<HTMLAnchorElement>("pdf");
  pdf.hidden = !(valid && serviceId === result.claims?.record.id);
  if (!valid || !result.claims) return;
  const evidenceId = result.claims.record.id;
  if (!pdf.hidden) {
    pdf.href = `/api/v1/evidence/${encodeURIComponent(evidenceId)}/certificate.pdf`;
    pdf.download = `${evidenceId}.pdf`;
  }
  void siteInfo().then((site) => {
    const qr = qrcode(0, "M");
    qr.addData(new URL(`/verify?id=${encodeURIComponent(evidenceId)}`, site.publicUrl).href);
    qr.make();
    const img = byId<HTMLImageElement>("qr");
    img.src = qr.createDataURL(4, 2);
    img.alt = t("verify.qr");
  });
}
