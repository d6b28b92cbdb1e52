//! Typed handles. This is the one file that maps them to petgraph indices; no petgraph type
//! appears in the crate's public API.

use petgraph::stable_graph::NodeIndex;
use std::fmt;

/// A node of a [`crate::Graph`]. Stays valid while other nodes are removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

/// One output of a node: the value flowing from `node`'s output `port`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId {
    pub node: NodeId,
    pub port: usize,
}

impl NodeId {
    pub(crate) fn ix(self) -> NodeIndex<u32> {
        NodeIndex::new(self.0 as usize)
    }
    pub(crate) fn from_ix(ix: NodeIndex<u32>) -> NodeId {
        NodeId(ix.index() as u32)
    }
    /// The numeric index (stable for the node's life; for display and maps).
    pub fn index(self) -> usize {
        self.0 as usize
    }
    /// The value at output `port`.
    pub fn out(self, port: usize) -> ValueId {
        ValueId { node: self, port }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}:{}", self.node.0, self.port)
    }
}
