//! The process's own resource use, read from /proc (Linux; zeros elsewhere).

/// Resident memory in bytes.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| parse_vm_rss(&s))
        .unwrap_or(0)
}

/// CPU time (user + system) used so far, in seconds.
pub fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse_cpu_ticks(&s))
        .map(|ticks| ticks as f64 / 100.0)
        .unwrap_or(0.0)
}

/// The memory limit of the process's cgroup in bytes (cgroup v2 `memory.max`, or v1
/// `memory.limit_in_bytes`), or `None` when there is none (no cgroup, or unlimited).
pub fn memory_limit_bytes() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    limit_files(&own)
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .find_map(|text| parse_limit(&text))
}

/// The files that may hold the limit, most specific first: the process's own cgroup (as
/// `/proc/self/cgroup` names it), then the root of the mount (a container sees its own
/// cgroup there).
fn limit_files(proc_self_cgroup: &str) -> Vec<String> {
    let mut files = Vec::new();
    for line in proc_self_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let path = path.trim_end_matches('/');
        if controllers.is_empty() {
            files.push(format!("/sys/fs/cgroup{path}/memory.max"));
        } else if controllers.split(',').any(|c| c == "memory") {
            files.push(format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"));
        }
    }
    files.push("/sys/fs/cgroup/memory.max".into());
    files.push("/sys/fs/cgroup/memory/memory.limit_in_bytes".into());
    files.dedup();
    files
}

/// A limit file's value: bytes, or `None` for `max` and v1's "unlimited" (a page-rounded
/// `i64::MAX`).
fn parse_limit(text: &str) -> Option<u64> {
    let bytes: u64 = text.trim().parse().ok()?;
    (bytes > 0 && bytes < 1 << 62).then_some(bytes)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// utime + stime, fields 14 and 15 of /proc/self/stat (after the parenthesised command name).
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state); utime is field 14 → index 11.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(
            parse_vm_rss("Name:\tx\nVmRSS:\t  2048 kB\n"),
            Some(2048 * 1024)
        );
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        let stat = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
    }

    #[test]
    fn cgroup_limits() {
        let cases = [
            ("max\n", None),
            ("536870912\n", Some(536_870_912)),
            ("9223372036854771712\n", None),
            ("0", None),
            ("garbage", None),
        ];
        for (text, limit) in cases {
            assert_eq!(parse_limit(text), limit, "{text:?}");
        }
        assert_eq!(
            limit_files("0::/system.slice/app.service\n"),
            vec![
                "/sys/fs/cgroup/system.slice/app.service/memory.max",
                "/sys/fs/cgroup/memory.max",
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            ]
        );
        assert_eq!(
            limit_files("4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n0::/\n")[..2],
            [
                "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes".to_string(),
                "/sys/fs/cgroup/memory.max".to_string(),
            ]
        );
    }

    #[test]
    fn reads_own_process() {
        if cfg!(target_os = "linux") {
            assert!(rss_bytes() > 0);
        }
    }
}
