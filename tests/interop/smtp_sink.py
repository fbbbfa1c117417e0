"""An SMTP server for tests and benchmarks (aiosmtpd on loopback): every accepted message is stored as
`<n>.eml` (the bytes as received, CRLF kept) with `<n>.json` ({"mail_from", "rcpt_tos", "received_at"}, the
last a Unix time in seconds) beside it.

    python tests/interop/smtp_sink.py --port 8025 --dir /tmp/mails [--delay S] [--command-delay S]

--delay S          wait S seconds before storing and accepting each message (a slow server; a client
                   killed meanwhile never gets the message acknowledged, and it is not stored)
--command-delay S  answer every SMTP command after S seconds (a very slow server)
--count-only       do not store messages, only count them (benchmarks): `count` and `bytes` files in --dir
--tls-cert F --tls-key F   offer STARTTLS with this certificate, and refuse mail before it

Prints READY on stdout once it listens. Stop it with SIGTERM.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller


class Sink:
    def write_count(self, stop: threading.Event) -> None:
        """--count-only: the count, in a file, every 20 ms (not per message: the sink must not be the bottleneck)."""
        last = -1
        while not stop.wait(0.02) or last != self.n:
            if self.n != last:
                with self.lock:
                    last, size = self.n, self.bytes
                (self.dir / "bytes").write_text(str(size))
                (self.dir / "count.tmp").write_text(str(last))
                os.replace(self.dir / "count.tmp", self.dir / "count")
            if stop.is_set():
                break

    def __init__(self, directory: Path, delay: float, command_delay: float, count_only: bool):
        self.dir = directory
        self.delay = delay
        self.command_delay = command_delay
        self.count_only = count_only
        self.n = 0
        self.bytes = 0
        self.lock = threading.Lock()

    async def _pause(self):
        if self.command_delay:
            await asyncio.sleep(self.command_delay)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        await self._pause()
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        await self._pause()
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await self._pause()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        await self._pause()
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.n += 1
            self.bytes += len(envelope.original_content)
            n = self.n
        if not self.count_only:
            meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "received_at": time.time(),
                    "tls": session.ssl is not None}
            tmp = self.dir / f".{n}.tmp"
            tmp.write_bytes(envelope.original_content)
            (self.dir / f"{n:06d}.json").write_text(json.dumps(meta))
            os.replace(tmp, self.dir / f"{n:06d}.eml")
        return "250 Message accepted for delivery"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--command-delay", type=float, default=0.0)
    p.add_argument("--count-only", action="store_true")
    p.add_argument("--tls-cert", type=Path)
    p.add_argument("--tls-key", type=Path)
    a = p.parse_args()
    tls = {}
    if a.tls_cert:
        import ssl
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(a.tls_cert, a.tls_key)
        tls = {"tls_context": context, "require_starttls": True}
    a.dir.mkdir(parents=True, exist_ok=True)
    handler = Sink(a.dir, a.delay, a.command_delay, a.count_only)
    # decode_data=False keeps the message bytes exactly as received.
    controller = Controller(handler, hostname="127.0.0.1", port=a.port, decode_data=False,
                            server_kwargs={"data_size_limit": 10 * 1024 * 1024}, **tls)
    controller.start()
    stop = threading.Event()
    if a.count_only:
        threading.Thread(target=handler.write_count, args=(stop,), daemon=True).start()
    print("READY", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
