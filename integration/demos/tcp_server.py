"""Demo: accept one TCP connection on 127.0.0.1 (prints the port first), read to EOF, close."""
import socket
import sys

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
while conn.recv(4096):
    pass
conn.close()
srv.close()
sys.exit(0)
