/** The EvidenceAnchor interface (version 1), in ethers' human-readable ABI form. */
export const EVIDENCE_ANCHOR_ABI = [
  "event Anchored(bytes32 indexed root, address indexed anchorer, uint64 treeSize, uint64 timestamp)",
  "error EvidenceAnchorAlreadyAnchored(bytes32 root)",
  "error EvidenceAnchorEmptyTree()",
  "error EvidenceAnchorZeroRoot()",
  "error AccessControlUnauthorizedAccount(address account, bytes32 neededRole)",
  "function ANCHORER_ROLE() view returns (bytes32)",
  "function DEFAULT_ADMIN_ROLE() view returns (bytes32)",
  "function hasRole(bytes32 role, address account) view returns (bool)",
  "function grantRole(bytes32 role, address account)",
  "function revokeRole(bytes32 role, address account)",
  "function anchor(bytes32 root, uint64 treeSize)",
  "function anchorOf(bytes32 root) view returns (uint64 timestamp, uint64 blockNumber, uint64 treeSize)",
  "function verifyInclusion(bytes32 leafHash, uint64 leafIndex, uint64 treeSize, bytes32[] path, bytes32 root) pure returns (bool)",
] as const;
