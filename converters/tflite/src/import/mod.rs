//! TFLite import: flatbuffer model → IR graph. Filled in by the importer work.
