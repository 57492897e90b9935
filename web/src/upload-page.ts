import {
  captureFailureText,
  isWebUrl,
  MEDIA_TYPE_CAPTURE,
  problemText,
  timeText,
  type CaptureList,
  type EvidenceList,
  type EvidenceStatus,
  type EvidenceView,
  type IntakeResponse,
  type Problem,
  visibleText,
} from "../../service/core/index.ts";
import { byId, dropZone, el, formatBytes } from "./dom.ts";
import { hashFile } from "./file-hash.ts";
import { applyLanguage, lang, MessageLine, setUpLanguageSwitch, t, type MessageKey } from "./i18n.ts";

type Status = EvidenceStatus | "uploading" | "error";

interface Row {
  file: File;
  progress: HTMLProgressElement;
  hashCell: HTMLTableCellElement;
  statusCell: HTMLTableCellElement;
  certificateCell: HTMLTableCellElement;
  status: Status;
  id?: string;
  /** The service's SHA-256 and whether the browser's own equals it, once both are known. */
  hash?: { service: string; matches: boolean };
}

const KEY_STORAGE = "evidence-anchor.api-key";
const keyInput = byId<HTMLInputElement>("api-key");
const errorLine = new MessageLine(byId<HTMLParagraphElement>("error"));
const rows: Row[] = [];

keyInput.value = sessionStorage.getItem(KEY_STORAGE) ?? "";
applyLanguage();
setUpLanguageSwitch(byId("lang"), () => {
  rows.forEach(renderStatus);
  errorLine.render();
  captureError.render();
  captureStatus.render();
  if (shownCaptureLinks) byId("capture-links").replaceChildren(...certificateLinks(shownCaptureLinks, true));
  renderList();
});
byId("use-key").addEventListener("click", () => {
  sessionStorage.setItem(KEY_STORAGE, keyInput.value.trim());
  void refreshList();
});
byId("refresh").addEventListener("click", () => void refreshList());
byId("more").addEventListener("click", () => void showOlder());
dropZone(byId("drop"), byId("files"), (files) => {
  errorLine.clear();
  files.forEach((f) => void submit(f));
});

/** An upload's failure, as a message in whatever language the page is in when it is shown. */
class UploadError extends Error {
  readonly text: () => string;
  constructor(text: () => string) {
    super(text());
    this.text = text;
  }
}
if (keyInput.value) void refreshList();

function apiKey(): string | undefined {
  return keyInput.value.trim() || undefined;
}

async function submit(file: File): Promise<void> {
  const key = apiKey();
  if (!key) {
    errorLine.set(() => t("upload.keyMissing"));
    return;
  }
  const sourceUrl = byId<HTMLInputElement>("source-url").value.trim();
  if (sourceUrl && !isWebUrl(sourceUrl)) {
    errorLine.set(() => t("upload.badSourceUrl"));
    return;
  }
  // Every empty file has the same hash: a certificate for one proves nothing of anyone's.
  if (file.size === 0) {
    errorLine.add(() => `${visibleText(file.name)}: ${t("upload.emptyFile")}`);
    return;
  }
  const row = addRow(file);
  // The browser computes the hash too, so the rights holder can compare it with the service's.
  const localHash = hashFile(file);
  try {
    const item = await upload(file, key, (fraction) => (row.progress.value = fraction));
    row.id = item.id;
    row.hash = { service: item.contentHash, matches: (await localHash) === item.contentHash };
    row.status = "pending";
    renderStatus(row);
    await follow(row);
  } catch (e) {
    row.status = "error";
    renderStatus(row);
    const text = e instanceof UploadError ? e.text : () => (e as Error).message;
    errorLine.add(() => `${visibleText(file.name)}: ${text()}`);
  }
}

function addRow(file: File): Row {
  const tr = el("tr");
  const progress = el("progress", undefined, {
    max: "1",
    value: "0",
    "aria-label": `${t("upload.progress")} ${visibleText(file.name)}`,
  });
  const cells = [
    el("td", visibleText(file.name)),
    el("td", formatBytes(file.size)),
    el("td"),
    el("td"),
    el("td"),
    el("td"),
  ];
  cells[2]!.append(progress);
  tr.append(...cells);
  byId<HTMLTableElement>("uploads").tBodies[0]!.append(tr);
  const row: Row = {
    file,
    progress,
    hashCell: cells[3]!,
    statusCell: cells[4]!,
    certificateCell: cells[5]!,
    status: "uploading",
  };
  rows.push(row);
  renderStatus(row);
  return row;
}

/** XMLHttpRequest, not fetch: only it reports upload progress. */
function upload(
  file: File,
  key: string,
  onProgress: (fraction: number) => void,
): Promise<{ id: string; contentHash: string }> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("file", file, file.name);
    for (const [field, id] of [
      ["title", "title"],
      ["sourceUrl", "source-url"],
    ] as const) {
      const value = byId<HTMLInputElement>(id).value.trim();
      if (value) form.append(field, value);
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/evidence");
    xhr.setRequestHeader("authorization", `Bearer ${key}`);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let body: Partial<IntakeResponse & Problem> = {};
      try {
        body = JSON.parse(xhr.responseText || "{}") as Partial<IntakeResponse & Problem>;
      } catch {
        // Not JSON (a proxy's error page): the status says enough.
      }
      if (xhr.status === 201 && body.items?.[0]) {
        onProgress(1);
        resolve(body.items[0]);
      } else reject(new UploadError(() => problemText(body, lang(), `HTTP ${xhr.status}`)));
    };
    xhr.onerror = () => reject(new UploadError(() => t("upload.networkError")));
    xhr.send(form);
  });
}

/**
 * Asks for an item every second (the API has no push) until `onView` says it is done. A request
 * that fails (the service restarting, the network gone) is not the item's failure: the
 * evidence was accepted. It is asked again, less often, and `onConnection(false)` is told until
 * the service answers again.
 */
async function watch(
  id: string,
  onView: (view: EvidenceView) => boolean,
  onConnection: (connected: boolean) => void,
): Promise<void> {
  let wait = 1000;
  for (;;) {
    const view = await fetch(`/api/v1/evidence/${encodeURIComponent(id)}`)
      .then((res) => (res.ok ? (res.json() as Promise<EvidenceView>) : undefined))
      .catch(() => undefined);
    onConnection(view !== undefined);
    if (view && onView(view)) return;
    wait = view ? 1000 : Math.min(wait * 2, 10_000);
    await new Promise((r) => setTimeout(r, wait));
  }
}

/** Follows an uploaded item until it is anchored. */
async function follow(row: Row): Promise<void> {
  let connected = true;
  await watch(
    row.id!,
    (view) => {
      if (view.status !== row.status) {
        row.status = view.status;
        renderStatus(row);
        if (view.status === "anchored") refreshListSoon();
      }
      return view.status === "anchored";
    },
    (now) => {
      if (now === connected) return;
      connected = now;
      if (now) renderStatus(row);
      else row.statusCell.textContent = `${t(`status.${row.status}` as MessageKey)} · ${t("upload.reconnecting")}`;
    },
  );
}

function renderStatus(row: Row): void {
  if (row.hash) {
    row.hashCell.replaceChildren(
      el("span", row.hash.service, { class: "mono" }),
      el("br"),
      el("small", row.hash.matches ? t("upload.hashMatches") : t("upload.hashDiffers")),
    );
  }
  row.statusCell.textContent = t(`status.${row.status}` as MessageKey);
  row.statusCell.dataset.status = row.status;
  row.certificateCell.replaceChildren(...(row.status === "anchored" && row.id ? certificateLinks(row.id) : []));
}

function certificateLinks(id: string, capture = false): HTMLElement[] {
  const links = [
    el("a", t("upload.download"), {
      href: `/api/v1/evidence/${id}/certificate`,
      download: `${id}.evidence.json`,
      class: "download",
    }),
    el("span", " · "),
    el("a", t("upload.pdf"), { href: `/api/v1/evidence/${id}/certificate.pdf`, download: `${id}.pdf`, class: "pdf" }),
  ];
  if (capture) {
    links.push(
      el("span", " · "),
      el("a", t("upload.package"), { href: `/api/v1/evidence/${id}/package`, download: `${id}.zip`, class: "package" }),
    );
  }
  links.push(el("span", " · "), el("a", t("upload.verifyLink"), { href: `/verify?id=${id}` }));
  return links;
}

// --- web capture (网页取证) ---

const captureError = new MessageLine(byId<HTMLParagraphElement>("capture-error"));
byId("capture-run").addEventListener("click", () => void capture());

async function capture(): Promise<void> {
  const key = apiKey();
  captureError.clear();
  // The last capture's status stays only while it is still under way: a finished one's
  // "anchored" beside this request's error would read as this request's outcome.
  const box = byId<HTMLDivElement>("capture-progress");
  if (box.dataset.status === "anchored" || box.dataset.status === "failed") box.hidden = true;
  if (!key) {
    captureError.set(() => t("upload.keyMissing"));
    return;
  }
  const url = byId<HTMLInputElement>("capture-url").value.trim();
  if (!isWebUrl(url)) {
    captureError.set(() => problemText({ code: "INVALID_URL" }, lang(), ""));
    return;
  }
  const title = byId<HTMLInputElement>("capture-title").value.trim();
  const res = await fetch("/api/v1/captures", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ url, ...(title ? { title } : {}) }),
  }).catch(() => undefined);
  if (!res) {
    captureError.set(() => t("upload.networkError"));
    return;
  }
  const body = (await res.json().catch(() => ({}))) as Partial<Problem> & { id?: string };
  if (res.status !== 202 || !body.id) {
    captureError.set(() => problemText(body, lang(), `HTTP ${res.status}`));
    return;
  }
  void refreshList();
  await followCapture(body.id);
}

/** The capture followed last: its status line, and the id whose links are shown once it is anchored. */
const captureStatus = new MessageLine(byId<HTMLParagraphElement>("capture-status"));
let shownCaptureLinks: string | undefined;

/** Follows a capture until it is anchored or has failed: its status, then its screenshot and links. */
async function followCapture(id: string): Promise<void> {
  const box = byId<HTMLDivElement>("capture-progress");
  const preview = byId<HTMLImageElement>("capture-preview");
  const links = byId<HTMLParagraphElement>("capture-links");
  box.hidden = false;
  preview.hidden = true;
  links.replaceChildren();
  shownCaptureLinks = undefined;
  box.dataset.status = "capturing";
  await watch(
    id,
    (view) => {
      box.dataset.status = view.status;
      if (view.status === "failed") {
        const error = view.capture?.error;
        captureStatus.set(() => t("capture.failed") + visibleText(captureFailureText(error, lang())));
        void refreshList();
        return true;
      }
      const key =
        view.status === "capturing" && view.capture?.status === "queued" ? "capture.queued" : `capture.${view.status}`;
      captureStatus.set(() => t(key as MessageKey));
      if (view.record && preview.hidden) {
        preview.src = `/api/v1/evidence/${id}/screenshot`;
        preview.alt = view.record.sourceUrl ?? "";
        preview.hidden = false;
      }
      if (view.status !== "anchored") return false;
      shownCaptureLinks = id;
      links.replaceChildren(...certificateLinks(id, true));
      void refreshList();
      return true;
    },
    (connected) => {
      if (!connected) captureStatus.set(() => t("upload.reconnecting"));
    },
  );
}

let refreshQueued = false;

/** Refreshes the list once for changes that come together (a batch of uploads anchored at once). */
function refreshListSoon(): void {
  if (refreshQueued) return;
  refreshQueued = true;
  setTimeout(() => {
    refreshQueued = false;
    void refreshList();
  }, 250);
}

async function refreshList(): Promise<void> {
  const key = apiKey();
  if (!key) return;
  const headers = { authorization: `Bearer ${key}` };
  // Captures not yet evidence (queued, capturing, failed) come from their own list.
  const answers = await Promise.all([
    fetch("/api/v1/evidence?limit=100", { headers }),
    fetch("/api/v1/captures", { headers }),
  ]).catch(() => undefined);
  if (!answers) return sayFailed(undefined);
  const [res, capturesRes] = answers;
  if (!res.ok) return sayFailed(res);
  const { items, next } = (await res.json()) as EvidenceList;
  const captures = capturesRes.ok ? ((await capturesRes.json()) as CaptureList).items : [];
  shownList = { items, captures, next };
  renderList();
}

/** The next page of the account's evidence, older than what is shown, added below it. */
async function showOlder(): Promise<void> {
  const key = apiKey();
  if (!key || !shownList || shownList.next === null) return;
  const res = await fetch(`/api/v1/evidence?limit=100&before=${shownList.next}`, {
    headers: { authorization: `Bearer ${key}` },
  }).catch(() => undefined);
  if (!res?.ok) return sayFailed(res);
  const page = (await res.json()) as EvidenceList;
  shownList = { ...shownList, items: [...shownList.items, ...page.items], next: page.next };
  renderList();
}

/** Says on the error line why a request failed: the service could not be reached, or what it answered. */
async function sayFailed(res: Response | undefined): Promise<void> {
  if (!res) {
    errorLine.set(() => t("upload.networkError"));
    return;
  }
  const problem = (await res.json().catch(() => ({}))) as Partial<Problem>;
  errorLine.set(() => problemText(problem, lang(), `HTTP ${res.status}`));
}

/** Removes a failed capture from the list (it recorded nothing); one already gone is no error. */
async function dismissCapture(id: string): Promise<void> {
  const key = apiKey();
  if (!key) return;
  errorLine.clear();
  const res = await fetch(`/api/v1/captures/${encodeURIComponent(id)}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${key}` },
  }).catch(() => undefined);
  if (!res) return sayFailed(undefined);
  if (res.status !== 204 && res.status !== 404) await sayFailed(res);
  await refreshList();
}

/** The list last fetched, drawn again when the language is switched. */
let shownList: { items: EvidenceList["items"]; captures: CaptureList["items"]; next: EvidenceList["next"] } | undefined;

/** Draws the list last fetched (`shownList`), if any. */
function renderList(): void {
  if (!shownList) return;
  const { items, captures, next } = shownList;
  byId<HTMLButtonElement>("more").hidden = next === null;
  const captureRow = (capture: CaptureList["items"][number]) => {
    const tr = el("tr");
    tr.dataset.capture = capture.status;
    const status = capture.status === "queued" ? t("capture.queued") : t(`status.${capture.status}`);
    const why = el("td", visibleText(captureFailureText(capture.error, lang())));
    if (capture.status === "failed") {
      const dismiss = el("button", t("capture.dismiss"), { type: "button", "data-dismiss": capture.id });
      dismiss.addEventListener("click", () => void dismissCapture(capture.id));
      why.append(" ", dismiss);
    }
    tr.append(
      el("td", visibleText(capture.url)),
      el("td", timeText(new Date(capture.requestedAt), lang()).local),
      el("td", status),
      why,
    );
    return tr;
  };
  const evidenceRow = (item: EvidenceList["items"][number]) => {
    const tr = el("tr");
    const links = el("td");
    if (item.status === "anchored")
      links.append(...certificateLinks(item.id, item.record.mediaType === MEDIA_TYPE_CAPTURE));
    tr.append(
      el(
        "td",
        visibleText(
          item.record.mediaType === MEDIA_TYPE_CAPTURE
            ? (item.record.sourceUrl ?? "")
            : (item.record.fileName ?? item.record.contentHash),
        ),
      ),
      el("td", timeText(new Date(item.record.submittedAt), lang()).local),
      el("td", t(`status.${item.status}` as MessageKey)),
      links,
    );
    return tr;
  };
  // Captures under way first; a failed one takes its place by time among the evidence, newest first.
  const failed = captures.filter((c) => c.status === "failed");
  const byTime = [
    ...items.map((item) => ({ at: Date.parse(item.record.submittedAt), row: () => evidenceRow(item) })),
    ...failed.map((capture) => ({ at: Date.parse(capture.requestedAt), row: () => captureRow(capture) })),
  ].sort((a, b) => b.at - a.at);
  byId<HTMLTableElement>("mine").tBodies[0]!.replaceChildren(
    ...captures.filter((c) => c.status !== "failed").map(captureRow),
    ...byTime.map((entry) => entry.row()),
  );
}
