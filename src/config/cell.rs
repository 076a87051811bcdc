//! The operations of a NAS-Bench-201 cell's edges, as the experiment's `[space]` lists
//! them and the cell networks build them ([`crate::network::cell`]).

use serde::{Deserialize, Serialize};

/// One edge's operation, numbered as AnalogNAS-Bench's `op_indices` digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellOp {
    /// 0: the identity.
    Skip,
    /// 1: no edge (NAS-Bench-201's `none`, zeros).
    #[serde(rename = "none")]
    None,
    /// 2: ReLU, 3x3 convolution, batch norm.
    #[serde(rename = "conv3x3")]
    Conv3x3,
    /// 3: ReLU, 1x1 convolution, batch norm.
    #[serde(rename = "conv1x1")]
    Conv1x1,
    /// 4: 3x3 average pool, stride 1, padding 1, padded pixels not counted.
    #[serde(rename = "avg_pool")]
    AvgPool3x3,
}

impl CellOp {
    /// Every operation, in digit order.
    pub const ALL: [CellOp; 5] = [
        CellOp::Skip,
        CellOp::None,
        CellOp::Conv3x3,
        CellOp::Conv1x1,
        CellOp::AvgPool3x3,
    ];

    /// The operation of digit `d`.
    pub fn from_digit(d: u8) -> Option<CellOp> {
        Self::ALL.get(usize::from(d)).copied()
    }

    /// Its digit.
    pub fn digit(self) -> u8 {
        Self::ALL
            .iter()
            .position(|&op| op == self)
            .map_or(0, |i| i as u8)
    }

    /// NAS-Bench-201's name.
    pub fn name(self) -> &'static str {
        match self {
            CellOp::Skip => "skip_connect",
            CellOp::None => "none",
            CellOp::Conv3x3 => "nor_conv_3x3",
            CellOp::Conv1x1 => "nor_conv_1x1",
            CellOp::AvgPool3x3 => "avg_pool_3x3",
        }
    }
}
