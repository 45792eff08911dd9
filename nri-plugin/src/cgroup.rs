//! From an OCI `linux.cgroupsPath` to the container's cgroup2 directory, whose inode number is
//! the cgroup id BPF sees (`bpf_get_current_cgroup_id()`).

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// The cgroup2 directory of `cgroups_path` under the cgroup2 mount `cgroup2_root`.
///
/// Forms (runc's rules):
/// - a path (`/k8s.io/<id>`, `/kubepods/pod<uid>/<id>`; relative paths are taken from the
///   hierarchy root too): joined to the root, lexically cleaned so `..` cannot leave it;
/// - systemd `slice:prefix:name` (containerd with `SystemdCgroup = true`, e.g.
///   `kubepods-besteffort-pod1.slice:cri-containerd:<id>`): the slice expands to its nested
///   parents (`kubepods.slice/kubepods-besteffort.slice/...`, empty = `system.slice`, `-.slice`
///   = root) and the unit is `<prefix>-<name>.scope`, or `<name>` when it is itself a slice.
pub fn cgroup_dir(cgroups_path: &str, cgroup2_root: &Path) -> PathBuf {
    let relative = match systemd_parts(cgroups_path) {
        Some((slice, prefix, name)) => {
            let mut p = expand_slice(slice);
            p.push(if name.ends_with(".slice") {
                name.to_owned()
            } else {
                format!("{prefix}-{name}.scope")
            });
            p
        }
        None => PathBuf::from(cgroups_path),
    };
    let mut dir = cgroup2_root.to_path_buf();
    for comp in relative.components() {
        match comp {
            Component::Normal(c) => dir.push(c),
            // Clamped at the root, as runc's CleanPath does.
            Component::ParentDir if dir != cgroup2_root => {
                dir.pop();
            }
            _ => {}
        }
    }
    dir
}

/// `slice:prefix:name` when the path has exactly that shape (no '/' anywhere).
fn systemd_parts(p: &str) -> Option<(&str, &str, &str)> {
    if p.contains('/') {
        return None;
    }
    let mut it = p.split(':');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(slice), Some(prefix), Some(name), None) => Some((slice, prefix, name)),
        _ => None,
    }
}

/// `a-b-c.slice` → `a.slice/a-b.slice/a-b-c.slice`.
fn expand_slice(slice: &str) -> PathBuf {
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    if slice == "-.slice" {
        return PathBuf::new();
    }
    let stem = slice.strip_suffix(".slice").unwrap_or(slice);
    let mut out = PathBuf::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        out.push(format!("{prefix}.slice"));
    }
    out
}

/// The cgroup id of a cgroup2 directory: its inode number.
pub fn cgroup_id(dir: &Path) -> io::Result<u64> {
    Ok(std::fs::metadata(dir)?.ino())
}

/// Where cgroup2 is mounted: `/sys/fs/cgroup` on unified hosts, `/sys/fs/cgroup/unified` on
/// hybrid ones. Read from `/proc/self/mountinfo`; `None` without a cgroup2 mount.
pub fn cgroup2_mount() -> io::Result<Option<PathBuf>> {
    Ok(cgroup2_mount_in(&std::fs::read_to_string(
        "/proc/self/mountinfo",
    )?))
}

fn cgroup2_mount_in(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // "id parent maj:min root mountpoint opts [optional...] - fstype source superopts"
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let mountpoint = left.split_whitespace().nth(4)?;
        Some(PathBuf::from(mountpoint.replace("\\040", " ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths() {
        let root = Path::new("/sys/fs/cgroup/unified");
        assert_eq!(cgroup_dir("/k8s.io/abc", root), root.join("k8s.io/abc"));
        assert_eq!(
            cgroup_dir("/kubepods/pod1/abc", root),
            root.join("kubepods/pod1/abc")
        );
        assert_eq!(cgroup_dir("kubepods/abc", root), root.join("kubepods/abc"));
        assert_eq!(cgroup_dir("/../../etc/x", root), root.join("etc/x"));
        assert_eq!(cgroup_dir("", root), root);
    }

    #[test]
    fn systemd_paths() {
        let root = Path::new("/sys/fs/cgroup");
        assert_eq!(
            cgroup_dir("kubepods-besteffort-pod12.slice:cri-containerd:abc", root),
            root.join("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/cri-containerd-abc.scope")
        );
        assert_eq!(
            cgroup_dir("system.slice:docker:x", root),
            root.join("system.slice/docker-x.scope")
        );
        assert_eq!(
            cgroup_dir(":crio:x", root),
            root.join("system.slice/crio-x.scope")
        );
        assert_eq!(cgroup_dir("-.slice:p:x", root), root.join("p-x.scope"));
        assert_eq!(
            cgroup_dir("a.slice:p:b.slice", root),
            root.join("a.slice/b.slice")
        );
    }

    #[test]
    fn resolves_in_a_fake_cgroupfs_and_id_is_the_inode() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let plain = root.join("kubepods/pod9/c1");
        let systemd = root.join("kubepods.slice/kubepods-pod9.slice/cri-containerd-c2.scope");
        std::fs::create_dir_all(&plain).unwrap();
        std::fs::create_dir_all(&systemd).unwrap();
        let d1 = cgroup_dir("/kubepods/pod9/c1", root);
        let d2 = cgroup_dir("kubepods-pod9.slice:cri-containerd:c2", root);
        assert_eq!(
            (d1.as_path(), d2.as_path()),
            (plain.as_path(), systemd.as_path())
        );
        let id1 = cgroup_id(&d1).unwrap();
        assert_eq!(id1, std::fs::metadata(&plain).unwrap().ino());
        assert_ne!(id1, cgroup_id(&d2).unwrap());
        assert_eq!(
            cgroup_id(&root.join("missing")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn finds_cgroup2_in_mountinfo() {
        let hybrid = "25 1 0:22 / /sys/fs/cgroup ro - tmpfs tmpfs ro\n\
                      26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n\
                      27 25 0:24 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
        assert_eq!(
            cgroup2_mount_in(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(
            cgroup2_mount_in("1 0 0:1 / / rw - ext4 /dev/vda rw\n"),
            None
        );
    }
}
