//! Allocator settings for the commands that run models on the evaluator (run, quantize, prune,
//! distill, compress, verify). Every forward allocates and frees the same activation-sized
//! buffers (a few MB each); glibc's defaults hand buffers that size back to the kernel on free
//! and take them again as fresh zeroed pages on the next allocation, which cost a fifth of a
//! resnet18 calibration in page faults. Keeping them in the heap turns that into reuse.
//! Conversion commands keep the defaults, where returning memory early keeps the peak low.

/// Keeps freed buffers of up to 32 MB in the heap (glibc); a no-op elsewhere.
pub fn for_compute() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; it is called before this command
        // starts its worker threads and takes plain integers.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
            libc::mallopt(libc::M_TOP_PAD, 64 << 20);
        }
    }
}
