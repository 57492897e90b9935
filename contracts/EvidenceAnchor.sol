// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IEvidenceAnchor} from "./IEvidenceAnchor.sol";

/**
 * @title EvidenceAnchor
 * @notice Anchors the roots of evidence Merkle trees on a consortium chain.
 * @dev The consortium admin holds `DEFAULT_ADMIN_ROLE` and grants {ANCHORER_ROLE} to each
 * member's service. There is no upgrade path and no way to change or delete an anchor:
 * immutability is the product.
 */
contract EvidenceAnchor is IEvidenceAnchor, AccessControl {
    /// @inheritdoc IEvidenceAnchor
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// @dev One storage slot per anchor: 3 x 64 bits. A zero timestamp means "absent".
    struct Anchor {
        uint64 timestamp;
        uint64 blockNumber;
        uint64 treeSize;
    }

    mapping(bytes32 root => Anchor) private _anchors;

    /// @param admin the consortium admin, who grants and revokes {ANCHORER_ROLE}.
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IEvidenceAnchor
    function anchor(bytes32 root, uint64 treeSize) external onlyRole(ANCHORER_ROLE) {
        if (root == bytes32(0)) revert EvidenceAnchorZeroRoot();
        if (treeSize == 0) revert EvidenceAnchorEmptyTree();
        Anchor storage slot = _anchors[root];
        if (slot.timestamp != 0) revert EvidenceAnchorAlreadyAnchored(root);

        uint64 timestamp = uint64(block.timestamp);
        _anchors[root] = Anchor({timestamp: timestamp, blockNumber: uint64(block.number), treeSize: treeSize});
        emit Anchored(root, msg.sender, treeSize, timestamp);
    }

    /// @inheritdoc IEvidenceAnchor
    function anchorOf(bytes32 root) external view returns (uint64 timestamp, uint64 blockNumber, uint64 treeSize) {
        Anchor storage a = _anchors[root];
        return (a.timestamp, a.blockNumber, a.treeSize);
    }

    /// @inheritdoc IEvidenceAnchor
    function verifyInclusion(
        bytes32 leafHash,
        uint64 leafIndex,
        uint64 treeSize,
        bytes32[] calldata path,
        bytes32 root
    ) external pure returns (bool) {
        // solhint-disable-next-line gas-strict-inequalities
        if (leafIndex >= treeSize) return false;
        // RFC 9162 section 2.1.3.2: fn walks the leaf's index up the tree, sn the last
        // index; where fn is a right child or the last node on its level, the proof
        // element is on the left, and levels where fn has no sibling are skipped.
        uint256 fn = leafIndex;
        uint256 sn = uint256(treeSize) - 1;
        bytes32 r = leafHash;
        for (uint256 i = 0; i < path.length; ++i) {
            if (sn == 0) return false;
            if (fn & 1 == 1 || fn == sn) {
                r = sha256(abi.encodePacked(bytes1(0x01), path[i], r));
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                r = sha256(abi.encodePacked(bytes1(0x01), r, path[i]));
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && r == root;
    }
}
