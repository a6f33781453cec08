#!/usr/bin/python3
"""A tiny SMTP server that keeps every message it receives.

Each message's raw DATA bytes are written to DIR/NNNNNN.eml (numbered in arrival order, continuing
after any files already there), with the envelope in DIR/NNNNNN.json. Files appear atomically.
Any AUTH is accepted, without TLS. Needs Debian's python3-aiosmtpd (run with /usr/bin/python3).
"""
import argparse
import asyncio
import json
import os
import sys
import threading

try:
    from aiosmtpd.smtp import SMTP, AuthResult
except ImportError:
    sys.exit("smtp-sink: aiosmtpd is missing: apt-get install python3-aiosmtpd (and run /usr/bin/python3)")


class Store:
    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        numbers = [int(n[:-4]) for n in os.listdir(directory) if n.endswith(".eml") and n[:-4].isdigit()]
        self.seq = max(numbers, default=0)

    def _write(self, name, data):
        tmp = os.path.join(self.dir, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(self.dir, name))

    async def handle_DATA(self, server, session, envelope):
        self.seq += 1
        base = "%06d" % self.seq
        raw = envelope.original_content if envelope.original_content is not None else envelope.content
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos)}
        self._write(base + ".json", json.dumps(meta).encode())
        self._write(base + ".eml", raw)
        return "250 OK stored as %s.eml" % base


def accept_any_auth(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True)


async def serve(args):
    store = Store(args.dir)
    loop = asyncio.get_running_loop()

    def factory():
        return SMTP(
            store,
            hostname="claimdesk-smtp-sink",
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            authenticator=accept_any_auth,
        )

    server = await loop.create_server(factory, host=args.host, port=args.port)
    print("smtp-sink: listening on %s:%d, storing in %s" % (args.host, args.port, args.dir), flush=True)
    async with server:
        await server.serve_forever()


def exit_when_stdin_closes():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--exit-on-stdin-eof", action="store_true",
                   help="exit when stdin closes (so a test process that dies takes the sink with it)")
    args = p.parse_args()
    if args.exit_on_stdin_eof:
        threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
