import qrcode from "qrcode-generator";
import {
  CONTENT_HASH_PATTERN,
  JsonRpcAnchorReader,
  sha256Stream,
  verifyCertificate,
  type Certificate,
  type VerificationResult,
} from "../../service/core/index.ts";
import { byId, dropZone, el } from "./dom.ts";
import { applyLanguage, lang, setUpLanguageSwitch, t, type MessageKey } from "./i18n.ts";

const certText = byId<HTMLTextAreaElement>("cert-text");
const certFile = byId<HTMLInputElement>("cert-file");
const evidenceFile = byId<HTMLInputElement>("evidence-file");
const sha256Input = byId<HTMLInputElement>("sha256");
const rpcInput = byId<HTMLInputElement>("rpc");
const errorLine = byId<HTMLParagraphElement>("error");
const fileHash = byId<HTMLOutputElement>("file-hash");

/** The hash of the chosen original file, under way or done. */
let fileDigest: Promise<string | undefined> = Promise.resolve(undefined);
let lastResult: VerificationResult | undefined;

applyLanguage();
setUpLanguageSwitch(byId("lang"), () => lastResult && render(lastResult));
rpcInput.placeholder = new URL("/rpc", location.href).href;

dropZone(byId("cert-drop"), certFile, async (files) => {
  if (files[0]) certText.value = await files[0].text();
});

// The original file is hashed here, in chunks, with progress; it is never uploaded.
evidenceFile.addEventListener("change", () => {
  const file = evidenceFile.files?.[0];
  fileHash.value = "";
  fileDigest = file ? hashFile(file) : Promise.resolve(undefined);
});

async function hashFile(file: File): Promise<string> {
  const box = byId<HTMLDivElement>("hashing");
  const bar = byId<HTMLProgressElement>("hash-progress");
  box.hidden = false;
  bar.value = 0;
  const digest = await sha256Stream(file.stream(), (n) => (bar.value = file.size === 0 ? 1 : n / file.size));
  bar.value = 1;
  box.hidden = true;
  fileHash.value = `SHA-256 ${digest}`;
  return digest;
}

byId("verify").addEventListener("click", () => void run());
byId("print").addEventListener("click", () => window.print());

// /verify?id=… (the QR code on a printed certificate): fetch and check at once.
const id = new URLSearchParams(location.search).get("id");
if (id) void loadById(id);

async function loadById(evidenceId: string): Promise<void> {
  try {
    const res = await fetch(`/api/v1/evidence/${encodeURIComponent(evidenceId)}/certificate`);
    if (!res.ok) throw new Error(((await res.json()) as { detail?: string }).detail ?? res.statusText);
    certText.value = await res.text();
    await run();
  } catch (e) {
    errorLine.textContent = t("verify.loadFailed") + (e as Error).message;
  }
}

async function run(): Promise<void> {
  errorLine.textContent = "";
  const text = certText.value.trim();
  if (!text) {
    errorLine.textContent = t("verify.noCertificate");
    return;
  }
  const typed = sha256Input.value.trim();
  if (typed && !CONTENT_HASH_PATTERN.test(typed)) {
    errorLine.textContent = t("verify.badSha256");
    return;
  }
  const digest = evidenceFile.files?.[0] ? await fileDigest : typed ? typed.toLowerCase() : undefined;
  const rpc = rpcInput.value.trim() || new URL("/rpc", location.href).href;
  const result = await verifyCertificate(text, {
    chain: new JsonRpcAnchorReader(rpc),
    ...(digest !== undefined ? { fileDigest: digest } : {}),
  });
  lastResult = result;
  render(result);
}

function render(result: VerificationResult): void {
  const section = byId<HTMLElement>("result");
  section.hidden = false;
  const verdict = byId<HTMLHeadingElement>("verdict");
  verdict.textContent = result.valid ? t("verify.valid") : t("verify.invalid");
  verdict.className = result.valid ? "valid" : "invalid";
  const failed = result.checks.filter((c) => c.status === "failed").map((c) => c.id);
  byId("verdict-text").textContent = result.valid
    ? t("verify.validText")
    : `${t("verify.invalidText")} ${failed.join(", ")}`;

  const checks = byId<HTMLOListElement>("checks");
  checks.replaceChildren(
    ...result.checks.map((check) => {
      const item = el("li", undefined, { class: check.status, "data-check": check.id });
      item.append(
        el("strong", `${check.id}: ${t(`check.${check.status}` as MessageKey)}`),
        " — ",
        t(`check.${check.id}` as MessageKey),
        el("span", check.detail, { class: "detail" }),
      );
      return item;
    }),
  );
  renderSummary(result.certificate, result.valid ? result.anchoredAt : null);
}

function renderSummary(c: Certificate | null, anchoredAt: string | null): void {
  const summary = byId<HTMLDListElement>("summary");
  const figure = byId<HTMLElement>("qr-figure");
  summary.replaceChildren();
  figure.hidden = c === null;
  if (!c) return;
  const rows: [MessageKey, string][] = [];
  if (anchoredAt) {
    const date = new Date(anchoredAt);
    rows.push(["verify.anchoredLocal", date.toLocaleString(lang(), { timeZoneName: "short" })]);
    rows.push(["verify.anchoredUtc", anchoredAt]);
  }
  rows.push(["verify.contentHash", c.record.contentHash]);
  if (c.record.fileName) rows.push(["verify.fileName", c.record.fileName]);
  rows.push(
    ["verify.chain", String(c.anchor.chainId)],
    ["verify.contract", c.anchor.contract],
    ["verify.block", String(c.anchor.blockNumber)],
    ["verify.tx", c.anchor.txHash],
    ["verify.issuer", `${c.issuer.name} (${c.issuer.address})`],
  );
  for (const [key, value] of rows) summary.append(el("dt", t(key)), el("dd", value, { "data-field": key }));

  const qr = qrcode(0, "M");
  qr.addData(new URL(`/verify?id=${encodeURIComponent(c.record.id)}`, location.href).href);
  qr.make();
  byId<HTMLImageElement>("qr").src = qr.createDataURL(4, 2);
  byId<HTMLImageElement>("qr").alt = t("verify.qr");
}
