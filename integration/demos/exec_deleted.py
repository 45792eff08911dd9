"""Demo: execute a deleted binary -- open a copy, unlink it, execute it through its fd."""
import os
import shutil
import sys

copy = sys.argv[1]
shutil.copy("/bin/true", copy)
fd = os.open(copy, os.O_RDONLY)
os.unlink(copy)
os.execv(f"/proc/self/fd/{fd}", [copy])
