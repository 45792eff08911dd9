"""Demo: fileless execution -- copy a binary into a memfd and execute it from there."""
import os
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "/bin/true"
fd = os.memfd_create("paldemo", 0)
with open(src, "rb") as f:
    os.write(fd, f.read())
os.execv(f"/proc/self/fd/{fd}", [src])
