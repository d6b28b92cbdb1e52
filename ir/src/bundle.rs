//! The IR bundle: graph text plus a safetensors file of weights. (Being written.)
