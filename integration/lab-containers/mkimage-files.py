#!/usr/bin/env python3
"""integration/containerd/mkimage.py with extra files in the image's rootfs.

usage: mkimage-files.py BUSYBOX OUT.tar NAME [--file IMAGE_PATH=HOST_FILE]... [CMD...]

Same deterministic single-layer OCI archive as mkimage.py (it is imported, not copied); each
--file adds HOST_FILE's bytes at IMAGE_PATH (relative, e.g. etc/shadow; mode 0644 like the
other files mkimage.py writes). Used to give the kernel-lab container image a real /etc/shadow.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "containerd"))
import mkimage  # noqa: E402  (path set up above)


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 3:
        sys.exit(__doc__)
    head, rest = args[:3], args[3:]
    cmd = []
    while rest:
        if rest[0] == "--file" and len(rest) >= 2:
            path, _, host = rest[1].partition("=")
            if not path or not host or path.startswith("/"):
                sys.exit(f"--file wants IMAGE_PATH=HOST_FILE with a relative IMAGE_PATH, not {rest[1]!r}")
            with open(host, "rb") as f:
                mkimage.FILES[path] = f.read()
            rest = rest[2:]
        else:
            cmd, rest = rest, []
    sys.argv = [sys.argv[0], *head, *cmd]
    mkimage.main()


if __name__ == "__main__":
    main()
