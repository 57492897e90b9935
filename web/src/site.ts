import { DEVELOPMENT_CHAIN_IDS } from "../../service/core/index.ts";

/** What the service tells its pages about itself (`GET /api/v1/site`). */
export interface SiteInfo {
  /** The service's public address (PUBLIC_URL): what a QR code on paper leads to. */
  publicUrl: string;
  /** Display names of chains by id, from the service's configuration. */
  chainNames: Record<number, string>;
  developmentChainIds: readonly number[];
  /** The chain the service anchors on. */
  chainId?: number;
  /**
   * Every registry of that chain the service trusts, its own first, then earlier ones
   * (TRUSTED_CONTRACTS): trusted for certificates of that chain, whichever node is read.
   */
  contracts?: string[];
}

let cached: Promise<SiteInfo> | undefined;

/** The site's facts, asked once; a page opened from a file or another host falls back to its own address. */
export function siteInfo(): Promise<SiteInfo> {
  cached ??= fetch("/api/v1/site")
    .then((res) => (res.ok ? (res.json() as Promise<Partial<SiteInfo>>) : {}))
    .catch(() => ({}))
    .then((info: Partial<SiteInfo>) => ({
      publicUrl: info.publicUrl ?? location.origin,
      chainNames: info.chainNames ?? {},
      developmentChainIds: info.developmentChainIds ?? DEVELOPMENT_CHAIN_IDS,
      ...(info.chainId !== undefined ? { chainId: info.chainId } : {}),
      ...(info.contracts !== undefined ? { contracts: info.contracts } : {}),
    }));
  return cached;
}
