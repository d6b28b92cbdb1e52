//! Shape and dtype inference. (Being written.)
