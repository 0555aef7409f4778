use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Fixed directories searched for `nats-server` after `PATH`.
const NATS_DIRS: [&str; 3] = ["/usr/sbin", "/usr/bin", "/usr/local/bin"];
/// Where Debian installs versioned PostgreSQL server binaries.
const PG_LIB_DIR: &str = "/usr/lib/postgresql";

/// Locates the `nats-server` binary: first in `PATH`, then in `/usr/sbin`,
/// `/usr/bin` and `/usr/local/bin`. `None` means it is not installed
/// (Debian package `nats-server`).
pub fn find_nats_server() -> Option<PathBuf> {
    path_dirs()
        .into_iter()
        .chain(NATS_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join("nats-server"))
        .find(|p| is_executable(p))
}

/// Locates the directory holding the PostgreSQL server binaries (`initdb`,
/// `postgres`, `pg_ctl`): first a `PATH` entry containing both `initdb` and
/// `postgres`, else the highest version under `/usr/lib/postgresql/*/bin`.
/// `None` means they are not installed (Debian package `postgresql`).
pub fn find_postgres_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = path_dirs().into_iter().find(|d| is_pg_bin_dir(d)) {
        return Some(dir);
    }
    highest_versioned_bin_dir(Path::new(PG_LIB_DIR))
}

fn is_pg_bin_dir(dir: &Path) -> bool {
    is_executable(&dir.join("initdb")) && is_executable(&dir.join("postgres"))
}

fn highest_versioned_bin_dir(root: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(root).ok()?;
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = parse_version(e.file_name().to_str()?)?;
            let bin = e.path().join("bin");
            is_pg_bin_dir(&bin).then_some((version, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bin)| bin)
}

/// Parses `15`, `9.6`, `16.2` into comparable numeric components.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn path_dirs() -> Vec<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .filter(|d| !d.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(parse_version("15").unwrap() > parse_version("9.6").unwrap());
        assert!(parse_version("16.2").unwrap() > parse_version("16").unwrap());
        assert!(parse_version("main").is_none());
    }

    #[test]
    fn highest_version_is_picked() {
        let root = tempfile::tempdir().unwrap();
        for v in ["9.6", "15", "13", "notaversion"] {
            let bin = root.path().join(v).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            for exe in ["initdb", "postgres"] {
                let p = bin.join(exe);
                std::fs::write(&p, "#!/bin/sh\n").unwrap();
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        // A higher version without binaries is ignored.
        std::fs::create_dir_all(root.path().join("17/bin")).unwrap();
        assert_eq!(
            highest_versioned_bin_dir(root.path()),
            Some(root.path().join("15/bin"))
        );
        assert_eq!(
            highest_versioned_bin_dir(&root.path().join("missing")),
            None
        );
    }
}
