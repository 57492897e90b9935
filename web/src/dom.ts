import { lang } from "./i18n.ts";

/** The element with this id, typed; a missing element is a bug in the page. */
export function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
}

/** Creates an element with text content (never HTML: certificate fields are untrusted). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  attrs: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/** Makes `zone` accept dropped files and open the file chooser from the keyboard. */
export function dropZone(zone: HTMLElement, input: HTMLInputElement, onFiles: (files: File[]) => void): void {
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    onFiles([...(e.dataTransfer?.files ?? [])]);
  });
  zone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      input.click();
    }
  });
  input.addEventListener("change", () => onFiles([...(input.files ?? [])]));
}

/** A size in bytes as a count: "383 B", "383 字节". */
export function byteCount(n: number): string {
  return lang() === "zh-CN" ? `${n} 字节` : `${n} B`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return byteCount(n);
  const units = ["KiB", "MiB", "GiB"];
  let value = n / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value.toFixed(1)} ${units[i]}`;
}
