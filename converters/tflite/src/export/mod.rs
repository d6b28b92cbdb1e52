//! TFLite export (IR → .tflite flatbuffer). Owned by the export work; empty in the skeleton.
