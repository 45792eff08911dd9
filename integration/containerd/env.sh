# Shared settings for setup.sh / start.sh / stop.sh (sourced, not executed).
# PALISADE_CTRD_DIR holds the built images, containerd's log and pid file; override to relocate.
PALISADE_CTRD_DIR="${PALISADE_CTRD_DIR:-/var/lib/palisade-it/containerd}"
CTRD_LOG="$PALISADE_CTRD_DIR/containerd.log"
CTRD_PID="$PALISADE_CTRD_DIR/containerd.pid"
CTRD_CONFIG=/etc/containerd/config.toml
CTRD_SOCK=/run/containerd/containerd.sock
BUSYBOX_IMAGE=localhost/busybox:local
PAUSE_IMAGE=localhost/pause:local
APT="-o DPkg::Lock::Timeout=600"
# The hierarchies under which CRI pod cgroup parents can be left behind (kubelet normally owns them).
CGROUP_LEFTOVER_PARENTS="kubepods palisade-it"
# Does containerd answer? Plain `ctr version` keeps dialing a missing socket for 10 s.
ctrd_up() { [ -S "$CTRD_SOCK" ] && ctr --connect-timeout 2s version >/dev/null 2>&1; }
