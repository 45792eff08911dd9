//! Issue 6, Tetragon's matchPIDs (isNamespacePID) as palisade's `nsPids`, enforced inline in the
//! kernel lab (BPF LSM on Debian 6.12): a policy imported from a Tetragon TracingPolicy denies
//! unlink under /tmp/t/ to every process except the init of its pid namespace. In a fresh pid
//! namespace the shell (pid 1) may delete, its child `rm` (pid 2) may not; outside, the workload
//! (not pid 1 of the host) may not either. Needs root and the lab.

use std::fs;

use palisade_integration::agent::require_root;

const POLICY: &str = "apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: not-init
spec:
  kprobes:
  - call: security_path_unlink
    syscall: false
    args: [{index: 0, type: path}]
    selectors:
    - matchPIDs: [{operator: NotIn, isNamespacePID: true, values: [1]}]
      matchArgs: [{index: 0, operator: Prefix, values: [/tmp/t]}]
      matchActions: [{action: Override, argError: -1}]
";

const GUEST: &str = r#"
mkdir /tmp/t && touch /tmp/t/a /tmp/t/b /tmp/t/c
palisade policy check /lab/not-init.yaml || exit 7
palisade run --policy /lab/not-init.yaml --events /tmp/ev -- sh -c '
  rm /tmp/t/c; echo "RC outside $?"
  unshare -p -f sh -c "rm /tmp/t/a; echo \"RC child \$?\"; exec rm /tmp/t/b"; echo "RC init $?"
'
for f in a b c; do [ -e /tmp/t/$f ] && echo "EXISTS $f" || echo "GONE $f"; done
grep -c '"operation":"unlink"' /tmp/ev | sed 's/^/DECISIONS /'
"#;

#[test]
fn ns_pids_from_tetragon_match_pids_on_6_12() {
    require_root();
    let files = tempfile::tempdir().unwrap();
    fs::write(files.path().join("not-init.yaml"), POLICY).unwrap();
    let stdout = palisade_integration::lab::guest("6.12", files.path(), &[], GUEST);
    let has = |l: &str| stdout.lines().any(|x| x.trim() == l);
    for want in [
        "RC outside 1",
        "RC child 1",
        "RC init 0",
        "EXISTS a",
        "GONE b",
        "EXISTS c",
        "DECISIONS 2",
    ] {
        assert!(
            has(want),
            "missing {want:?} in the guest's output:\n{stdout}"
        );
    }
}
