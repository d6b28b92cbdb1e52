//! Writing the model: to bytes, or to a path through temporary files renamed into place (the
//! model and, for external data, `<stem>.data` beside it), so a failure leaves nothing behind
//! and never touches an input. Writing over a file the process has memory-mapped (the input
//! model or its external data) is refused. Files are not fsynced (as `cp` does not); the
//! rename makes the replacement atomic for readers.

use super::{AUTO_EXTERNAL_BYTES, EXTERNAL_THRESHOLD, ExportOptions, ExternalDataPolicy, lower_validated};
use crate::encode::{self, ExternalSink};
use crate::error::Error;
use edgeport_ir::validate::Validated;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Exports to bytes (no external data: models over 2 GiB need [`export_path`]).
pub fn export_bytes(g: &Validated<'_>, opts: &ExportOptions) -> Result<Vec<u8>, Error> {
    let file = "<memory>";
    let model = lower_validated(g, opts, file)?;
    let size = encode::encoded_size_inline(&model);
    let refuse = |msg: &str| Error::Export {
        file: file.into(),
        problems: vec![msg.to_string()],
    };
    if opts.external_data == ExternalDataPolicy::Always {
        return Err(refuse("external data needs a file path (use export_path)"));
    }
    if size > i32::MAX as u64 {
        return Err(refuse(
            "the model exceeds protobuf's 2 GiB limit: export to a path with external data",
        ));
    }
    let mut out = Vec::with_capacity(size as usize);
    encode::write_model(&model, &mut out, None).map_err(|e| Error::Io {
        path: file.into(),
        source: e,
    })?;
    Ok(out)
}

/// Exports to `path`; external data (when the policy calls for it) goes to `<stem>.data`
/// beside it.
pub fn export_path(g: &Validated<'_>, path: &Path, opts: &ExportOptions) -> Result<(), Error> {
    let file = crate::decode::display_path(path);
    let model = lower_validated(g, opts, &file)?;
    let size = encode::encoded_size_inline(&model);
    let external = match opts.external_data {
        ExternalDataPolicy::Always => true,
        ExternalDataPolicy::Never => {
            if size > i32::MAX as u64 {
                return Err(Error::Export {
                    file,
                    problems: vec!["the model exceeds protobuf's 2 GiB limit and external data is off".into()],
                });
            }
            false
        }
        ExternalDataPolicy::Auto => size > AUTO_EXTERNAL_BYTES,
    };
    let data_path = data_path_for(path);
    refuse_inputs(path, &file)?;
    if external {
        refuse_inputs(&data_path, &file)?;
    }
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| Error::Io { path: p, source: e }
    };
    let tmp = tmp_path(path);
    let tmp_data = tmp_path(&data_path);
    let mut guard = Cleanup(vec![tmp.clone(), tmp_data.clone()]);
    {
        let f = File::create(&tmp).map_err(io(&tmp))?;
        let mut w = BufWriter::with_capacity(128 << 10, f);
        if external {
            let df = File::create(&tmp_data).map_err(io(&tmp_data))?;
            let mut dw = BufWriter::with_capacity(128 << 10, df);
            let location = data_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let mut sink = ExternalSink::new(&mut dw, location, EXTERNAL_THRESHOLD);
            encode::write_model(&model, &mut w, Some(&mut sink)).map_err(io(path))?;
            dw.flush().map_err(io(&tmp_data))?;
        } else {
            encode::write_model(&model, &mut w, None).map_err(io(path))?;
        }
        w.flush().map_err(io(&tmp))?;
    }
    if external {
        std::fs::rename(&tmp_data, &data_path).map_err(io(&data_path))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    guard.0.clear();
    Ok(())
}

/// `<stem>.data` beside the model.
pub fn data_path_for(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    path.with_file_name(format!("{stem}.data"))
}

fn tmp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Removes the temporary files unless disarmed.
struct Cleanup(Vec<PathBuf>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Refuses to write over a file that this process has memory-mapped (an input model or its
/// external data: the IR's constants may point into it).
fn refuse_inputs(target: &Path, file: &str) -> Result<(), Error> {
    let Ok(real) = target.canonicalize() else {
        return Ok(());
    }; // does not exist yet
    if mapped_files().contains(&real) || edgeport_ir::mapped::opened_inputs().contains(&real) {
        return Err(Error::Export {
            file: file.to_string(),
            problems: vec![format!(
                "refusing to overwrite '{}': it is an input of this conversion",
                target.display()
            )],
        });
    }
    Ok(())
}

/// Files mapped into this process (Linux: from /proc/self/maps; elsewhere none are known).
fn mapped_files() -> Vec<PathBuf> {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = maps
        .lines()
        .filter_map(|l| {
            // address perms offset dev inode path
            let mut it = l.splitn(6, ' ');
            let path = it.nth(5)?.trim_start();
            path.starts_with('/').then(|| PathBuf::from(path.trim_end_matches(" (deleted)")))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}
