//! Reading and writing arrays: NumPy `.npy` and `.npz` files.

pub mod npy;
pub mod npz;
