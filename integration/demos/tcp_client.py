"""Demo: connect to HOST:PORT (HOST default 127.0.0.1), send a line, close. Exit 3 when the
connection is refused."""
import socket
import sys

host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
try:
    c = socket.create_connection((host, int(sys.argv[1])))
except ConnectionRefusedError:
    sys.exit(3)
c.sendall(b"hello\n")
c.close()
