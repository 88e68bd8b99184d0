//! `signalbox bench …`: reproducible figures for the README (grouping quality and speed).

use std::path::{Path, PathBuf};
use std::time::Instant;

use signalbox::pipeline::grouping::LineGrouper;

/// Suffix of the Loghub-2k structured files.
const STRUCTURED_SUFFIX: &str = "_2k.log_structured.csv";

/// One system's result.
pub struct SystemResult {
    pub system: String,
    pub lines: usize,
    pub clusters: usize,
    pub seconds: f64,
}

/// Groups the `Content` column of every `DIR/<System>/<System>_2k.log_structured.csv` and
/// writes `OUT/<System>.csv` (`LineId,ClusterId`), the input of `loghub_score.py --all`.
pub fn loghub(dir: &Path, out: &Path) -> Result<Vec<SystemResult>, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut systems: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().to_string();
            let file = entry.path().join(format!("{name}{STRUCTURED_SUFFIX}"));
            file.exists().then_some((name, file))
        })
        .collect();
    systems.sort();
    if systems.is_empty() {
        return Err(format!(
            "{}: no <System>/<System>{STRUCTURED_SUFFIX} files",
            dir.display()
        ));
    }
    let mut results = Vec::new();
    for (system, file) in systems {
        let (ids, contents) = read_contents(&file)?;
        let start = Instant::now();
        let mut grouper = LineGrouper::default();
        let assignment: Vec<usize> = contents.iter().map(|c| grouper.add(c)).collect();
        let seconds = start.elapsed().as_secs_f64();
        let path = out.join(format!("{system}.csv"));
        let mut writer =
            csv::Writer::from_path(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        writer
            .write_record(["LineId", "ClusterId"])
            .map_err(|e| e.to_string())?;
        for (id, cluster) in ids.iter().zip(&assignment) {
            writer
                .write_record([id.as_str(), &cluster.to_string()])
                .map_err(|e| e.to_string())?;
        }
        writer.flush().map_err(|e| e.to_string())?;
        results.push(SystemResult {
            system,
            lines: contents.len(),
            clusters: grouper.cluster_count(),
            seconds,
        });
    }
    Ok(results)
}

fn read_contents(file: &Path) -> Result<(Vec<String>, Vec<String>), String> {
    let mut reader =
        csv::Reader::from_path(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{}: {e}", file.display()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("{}: no {name} column", file.display()))
    };
    let (id_col, content_col) = (column("LineId")?, column("Content")?);
    let mut ids = Vec::new();
    let mut contents = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{}: {e}", file.display()))?;
        ids.push(record.get(id_col).unwrap_or_default().to_string());
        contents.push(record.get(content_col).unwrap_or_default().to_string());
    }
    Ok((ids, contents))
}
