// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IEvidenceAnchor
 * @notice Registry of RFC 6962 Merkle tree roots over evidence records (version 1).
 * @dev A root, once anchored, can never be changed or removed: the block it was
 * anchored in is the proof of time for every record in its tree.
 */
interface IEvidenceAnchor {
    /**
     * @dev Emitted when `root`, the root of a tree of `treeSize` records, is anchored
     * by `anchorer` in a block whose timestamp is `timestamp`. Only the root and the
     * anchorer are looked up by; the sizes and times are data.
     */
    // solhint-disable-next-line gas-indexed-events
    event Anchored(bytes32 indexed root, address indexed anchorer, uint64 treeSize, uint64 timestamp);

    /// @dev The root `root` is already anchored; anchors are immutable.
    error EvidenceAnchorAlreadyAnchored(bytes32 root);

    /// @dev A tree of size zero was offered; a batch is never empty.
    error EvidenceAnchorEmptyTree();

    /// @dev The zero root was offered; zero marks "absent" in {anchorOf}.
    error EvidenceAnchorZeroRoot();

    /// @notice The role allowed to call {anchor}: `keccak256("ANCHORER_ROLE")`.
    function ANCHORER_ROLE() external view returns (bytes32);

    /**
     * @notice Anchors `root`, the RFC 6962 root of a tree of `treeSize` leaves.
     * @dev Records the current block's timestamp and number with the tree size.
     *
     * Requirements:
     *
     * - the caller must have {ANCHORER_ROLE}.
     * - `root` must not be zero.
     * - `treeSize` must not be zero.
     * - `root` must not have been anchored before.
     *
     * Emits an {Anchored} event.
     */
    function anchor(bytes32 root, uint64 treeSize) external;

    /**
     * @notice Returns when `root` was anchored and the size of its tree.
     * @dev All three values are zero when `root` was never anchored.
     */
    function anchorOf(bytes32 root) external view returns (uint64 timestamp, uint64 blockNumber, uint64 treeSize);

    /**
     * @notice Checks an RFC 6962 inclusion proof (RFC 9162 section 2.1.3.2) with SHA-256.
     * @dev Returns false, never reverts, for any malformed input: `leafIndex >= treeSize`,
     * a path of the wrong length, or a path that does not lead to `root`.
     */
    function verifyInclusion(
        bytes32 leafHash,
        uint64 leafIndex,
        uint64 treeSize,
        bytes32[] calldata path,
        bytes32 root
    ) external pure returns (bool);
}
