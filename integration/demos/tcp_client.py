"""Demo: connect to 127.0.0.1:PORT, send a line, close. Exit 3 when the connection is refused."""
import socket
import sys

try:
    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
except ConnectionRefusedError:
    sys.exit(3)
c.sendall(b"hello\n")
c.close()
