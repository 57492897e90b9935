import { readFileSync } from "node:fs";

/** Reads a JSON file from test/vectors/. */
export function loadVector<T>(relativePath: string): T {
  return JSON.parse(readFileSync(new URL(`../vectors/${relativePath}`, import.meta.url), "utf8")) as T;
}

export interface InclusionCase {
  desc: string;
  leafIndex: number;
  treeSize: number;
  leafHash: string;
  path: string[];
  root: string;
}

export interface Rfc6962Tree {
  leaves: string[];
  leafHashes: string[];
  emptyRoot: string;
  roots: Record<string, string>;
}

export const rfc6962 = {
  tree: () => loadVector<Rfc6962Tree>("rfc6962/tree.json"),
  inclusion: () => loadVector<{ cases: InclusionCase[] }>("rfc6962/inclusion.json").cases,
  mutations: () => loadVector<{ cases: InclusionCase[] }>("rfc6962/mutations.json").cases,
  sizeNotCommitted: () => loadVector<{ cases: InclusionCase[] }>("rfc6962/size-not-committed.json").cases,
};

export interface ExampleRecords {
  records: { record: Record<string, unknown>; canonical: string; leafHash: string }[];
  root: string;
}

export const example = {
  records: () => loadVector<ExampleRecords>("certificate/records.json"),
  /** A fresh copy each call, so a test may mutate it. */
  certificate: () => loadVector<Record<string, unknown>>("certificate/certificate.json"),
  /** The same record's version 2 certificate (one signature per batch). */
  certificateV2: () => loadVector<Record<string, unknown>>("certificate/certificate-v2.json"),
  issuer: () => loadVector<{ address: string; privateKey: string }>("certificate/issuer.json"),
  /** The bytes of the file the example certificate is about. */
  file: () => readFileSync(new URL("../vectors/certificate/evidence.txt", import.meta.url)),
};
