/**
 * Writes docs/schema/: the evidence record and the certificate (versions 1 and 2) as JSON
 * Schema (draft-07), generated from the valibot schemas the verifiers use, for outside
 * verifiers. A test keeps the files equal to what this script writes.
 *
 *     node scripts/export-schemas.ts
 */
import { writeFileSync } from "node:fs";
import { toJsonSchema } from "@valibot/to-json-schema";
import type * as v from "valibot";
import { CertificateV1Schema, CertificateV2Schema, RecordSchema } from "../service/core/schema.ts";

const OUT = new URL("../docs/schema/", import.meta.url);
const BASE = "https://evidence-anchor.example/schema/";

/** What JSON Schema cannot say; docs/protocol.md specifies each, and every verifier checks it. */
const BEYOND_JSON_SCHEMA = [
  "Every string is well-formed Unicode (no lone surrogates).",
  "Times are real dates: the RFC 3339 text is exactly what the time prints as.",
  "Mixed-case addresses carry a correct EIP-55 checksum.",
  "proof.leafIndex is less than the tree size.",
  "No object has the same key twice (RFC 8785 §3.1).",
];

export function schemas(): Record<string, object> {
  const convert = (schema: v.GenericSchema, name: string, title: string, description: string) => ({
    $id: `${BASE}${name}`,
    title,
    description,
    $comment: `Also required, beyond JSON Schema: ${BEYOND_JSON_SCHEMA.join(" ")}`,
    ...toJsonSchema(schema, {
      errorMode: "ignore",
      typeMode: "output",
      // Text limits are checks in code points, which is what JSON Schema's maxLength counts.
      overrideAction: ({ valibotAction, jsonSchema }) => {
        const max = (valibotAction as { metadata?: { maxCodePoints?: number } }).metadata?.maxCodePoints;
        if (typeof max !== "number") return undefined;
        const { maxCodePoints: _, ...rest } = jsonSchema as Record<string, unknown>;
        return { ...rest, maxLength: max };
      },
    }),
  });
  return {
    "record.schema.json": convert(
      RecordSchema,
      "record.schema.json",
      "Evidence record (hash construction version 1)",
      "The record committed in the Merkle tree for one piece of evidence; its leaf is SHA-256(0x00 || JCS(record)). See docs/protocol.md.",
    ),
    "certificate-v1.schema.json": convert(
      CertificateV1Schema,
      "certificate-v1.schema.json",
      "Evidence certificate, version 1",
      "One record, its RFC 6962 inclusion proof, the anchor, and the issuer's EIP-191 signature over JCS(certificate without signature). See docs/protocol.md.",
    ),
    "certificate-v2.schema.json": convert(
      CertificateV2Schema,
      "certificate-v2.schema.json",
      "Evidence certificate, version 2",
      "One record, its inclusion proof, and the batch statement with the issuer's EIP-191 signature over JCS(batch), shared by every certificate of the batch. See docs/protocol.md.",
    ),
  };
}

if (import.meta.main) {
  for (const [name, schema] of Object.entries(schemas())) {
    writeFileSync(new URL(name, OUT), `${JSON.stringify(schema, null, 2)}\n`);
  }
}
