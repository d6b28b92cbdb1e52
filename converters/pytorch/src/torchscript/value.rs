//! Values the TorchScript interpreter works with: Python scalars and containers, module objects,
//! graph tensors (by their name in the import context), and 0-d tensors whose value is known
//! at import time (sizes turned into tensors by `prim::NumToTensor`, scalar constants) so that
//! traced shape arithmetic folds to numbers.

use crate::pickle;
use edgeport_ir::DType;
use std::rc::Rc;

/// A 0-d tensor known at import time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Num {
    pub fn f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
            Num::Bool(b) => b as i64 as f64,
        }
    }
    /// As an integer (floats truncate, saturating).
    pub fn i64(self) -> i64 {
        match self {
            Num::Int(i) => i,
            Num::Float(f) => f as i64,
            Num::Bool(b) => b as i64,
        }
    }
    pub fn dtype(self) -> DType {
        match self {
            Num::Int(_) => DType::I64,
            Num::Float(_) => DType::F32,
            Num::Bool(_) => DType::Bool,
        }
    }
}

/// A module object: its class, its attribute path from the root (`layer1.0.conv1`) and its
/// pickled state.
#[derive(Debug)]
pub struct Obj {
    pub class: String,
    pub path: String,
    pub state: pickle::Value,
}

/// An interpreter value.
#[derive(Clone, Debug)]
pub enum V {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    /// A graph tensor, by its name in the import context's environment.
    Tensor(Rc<str>),
    /// A 0-d tensor with a known value.
    Num(Num),
    List(Rc<Vec<V>>),
    Tuple(Rc<Vec<V>>),
    Obj(Rc<Obj>),
    Device(Rc<str>),
    /// `range(n)` with `n` a tensor known only at run time (by name): the trip count of an
    /// IR `Loop`.
    RunRange(Rc<str>),
    /// A value produced by something unsupported (already reported); anything computed from
    /// it is poisoned too, so that every unsupported construct is found in one run.
    Poison,
}

impl V {
    pub fn kind(&self) -> &'static str {
        match self {
            V::None => "None",
            V::Bool(_) => "bool",
            V::Int(_) => "int",
            V::Float(_) => "float",
            V::Str(_) => "str",
            V::Tensor(_) => "Tensor",
            V::Num(_) => "0-d tensor",
            V::List(_) => "list",
            V::Tuple(_) => "tuple",
            V::Obj(_) => "module",
            V::Device(_) => "device",
            V::RunRange(_) => "range over a run-time count",
            V::Poison => "unsupported value",
        }
    }
    /// A Python int (also from a bool or a known 0-d integer tensor).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            V::Int(i) => Some(*i),
            V::Bool(b) => Some(*b as i64),
            V::Num(Num::Int(i)) => Some(*i),
            V::Num(Num::Bool(b)) => Some(*b as i64),
            _ => None,
        }
    }
    /// A known number (int, float, bool or known 0-d tensor).
    pub fn as_num(&self) -> Option<Num> {
        match self {
            V::Int(i) => Some(Num::Int(*i)),
            V::Float(f) => Some(Num::Float(*f)),
            V::Bool(b) => Some(Num::Bool(*b)),
            V::Num(n) => Some(*n),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&[V]> {
        match self {
            V::List(v) | V::Tuple(v) => Some(v),
            _ => None,
        }
    }
    pub fn is_poison(&self) -> bool {
        match self {
            V::Poison => true,
            V::List(v) | V::Tuple(v) => v.iter().any(V::is_poison),
            _ => false,
        }
    }
}

/// A Python number from a known numeric value (0-d tensors become plain numbers).
pub fn num_value(n: Num) -> V {
    match n {
        Num::Int(i) => V::Int(i),
        Num::Float(f) => V::Float(f),
        Num::Bool(b) => V::Bool(b),
    }
}
