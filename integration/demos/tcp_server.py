"""Demo: accept one TCP connection on HOST (default 127.0.0.1; prints the port first), read to
EOF, close."""
import socket
import sys

host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
srv = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
srv.bind((host, 0))
srv.listen(1)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
while conn.recv(4096):
    pass
conn.close()
srv.close()
sys.exit(0)
