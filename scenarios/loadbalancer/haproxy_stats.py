# haproxy's `show stat` CSV from the stats socket in argv[1]: printed once,
# or, given an end line in argv[2], once for each line read on stdin, each
# answer ("error: " and why, when the socket could not be read) followed by
# the end line. Runs under python3 and python2 (CentOS 7 has only python2).
import socket, sys


def show_stat():
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(sys.argv[1])
        s.sendall(b"show stat\n")
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out.decode()
            out += chunk
    finally:
        s.close()


if len(sys.argv) < 3:
    sys.stdout.write(show_stat())
else:
    while sys.stdin.readline():
        try:
            out = show_stat()
        except Exception as e:
            out = "error: %s\n" % e
        sys.stdout.write(out + "\n" + sys.argv[2] + "\n")
        sys.stdout.flush()
