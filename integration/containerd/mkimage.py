#!/usr/bin/env python3
"""Build a single-layer OCI image archive around a static busybox, without any registry.

usage: mkimage.py BUSYBOX OUT.tar NAME [CMD...]

The archive is an OCI image layout in a tar (oci-layout, index.json, blobs/sha256/*). The index
entry carries the image name under both annotation keys that importers read:
io.containerd.image.name (ctr images import) and org.opencontainers.image.ref.name (podman load).
Every timestamp and owner is fixed, so the same busybox gives a byte-identical archive.
"""
import hashlib
import io
import json
import subprocess
import sys
import tarfile

DIRS = ["bin", "dev", "etc", "proc", "sys", "tmp", "root", "run", "var", "var/run"]
FILES = {
    "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\n",
    "etc/group": b"root:x:0:\n",
}


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def entry(name: str, kind: bytes, mode: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, link
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
    return info


def rootfs_layer(busybox: str) -> bytes:
    """An uncompressed layer: the directory skeleton, busybox, one symlink per applet."""
    listing = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True)
    applets = sorted(set(listing.stdout.split()) - {"busybox"})
    with open(busybox, "rb") as f:
        binary = f.read()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in DIRS:
            tar.addfile(entry(d, tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755))
        tar.addfile(entry("bin/busybox", tarfile.REGTYPE, 0o755, len(binary)), io.BytesIO(binary))
        for applet in applets:
            tar.addfile(entry("bin/" + applet, tarfile.SYMTYPE, 0o777, link="busybox"))
        for path, data in FILES.items():
            tar.addfile(entry(path, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    return out.getvalue()


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def main() -> None:
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    busybox, out_path, name = sys.argv[1:4]
    cmd = sys.argv[4:] or ["sh"]

    layer = rootfs_layer(busybox)
    config = canonical({
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/bin"], "Cmd": cmd, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [digest(layer)]},
    })
    manifest = canonical({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digest(layer), "size": len(layer)}],
    })
    index = canonical({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest(manifest),
            "size": len(manifest),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": name,
                            "org.opencontainers.image.ref.name": name},
        }],
    })

    with tarfile.open(out_path, "w", format=tarfile.PAX_FORMAT) as tar:
        members = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index)]
        members += [("blobs/sha256/" + digest(b)[7:], b) for b in (layer, config, manifest)]
        for path, data in members:
            tar.addfile(entry(path, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))


if __name__ == "__main__":
    main()
