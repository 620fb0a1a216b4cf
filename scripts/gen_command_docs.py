#!/usr/bin/env python3
"""Writes node/src/server/session/command_docs.json: Redis's own COMMAND DOCS, as redis-server
answers it in RESP3, for `kiwi`'s COMMAND DOCS to answer the same (summary, since, group,
complexity, arguments, history, subcommands) for every command it implements.

    python3 scripts/gen_command_docs.py [PORT]

Starts a throwaway redis-server (from PATH) unless PORT names a running one. The reply is kept
with its RESP3 types, so nothing is lost in translation: a map is {"%": [[key, value], ...]}
(in order), a set {"~": [...]}, an array a JSON array, a bulk string a JSON string, a simple
string {"+": "..."}, an integer a JSON number. Run it again against a newer Redis to update.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

OUT = os.path.join(os.path.dirname(__file__), "..", "node", "src", "server", "session",
                   "command_docs.json")


class Reader:
    def __init__(self, sock):
        self.buf = b""
        self.sock = sock

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self.line()
        kind, rest = chr(line[0]), line[1:].decode()
        if kind == "$":
            return self.exact(int(rest)).decode()
        if kind == "+":
            return {"+": rest}
        if kind == ":":
            return int(rest)
        if kind == "*":
            return [self.reply() for _ in range(int(rest))]
        if kind == "~":
            return {"~": [self.reply() for _ in range(int(rest))]}
        if kind == "%":
            return {"%": [[self.reply(), self.reply()] for _ in range(int(rest))]}
        if kind == "-":
            raise RuntimeError(rest)
        raise ValueError(f"unexpected RESP3 type {kind!r}")


def command(sock, reader, *args):
    out = f"*{len(args)}\r\n".encode()
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)
    return reader.reply()


def main():
    server = None
    tmp = None
    if len(sys.argv) > 1:
        port = int(sys.argv[1])
    else:
        if not shutil.which("redis-server"):
            sys.exit("redis-server is not installed (scripts/setup.sh installs it)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        tmp = tempfile.mkdtemp()
        server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "",
                                   "--dir", tmp], stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        reader = Reader(sock)
        hello = command(sock, reader, "HELLO", "3")
        version = dict(hello["%"])["version"]
        docs = command(sock, reader, "COMMAND", "DOCS")
        pairs = sorted(docs["%"], key=lambda kv: kv[0])
        with open(OUT, "w") as f:
            json.dump({"redis_version": version, "docs": {"%": pairs}}, f, separators=(",", ":"))
            f.write("\n")
        print(f"wrote {len(pairs)} commands' docs from Redis {version} to {os.path.normpath(OUT)}")
    finally:
        if server:
            server.terminate()
            server.wait()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
