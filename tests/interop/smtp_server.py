#!/usr/bin/env python3
"""A real SMTP server on loopback for the tests (aiosmtpd), delivering into a Maildir.

Usage: smtp_server.py --port PORT --maildir DIR [--auth USER:PASSWORD] [--starttls CERT KEY] [--tls CERT KEY]

Prints "ready" once it accepts connections. It stops on SIGTERM, SIGINT, or when its standard input
closes, so it never outlives the test that started it.
"""

import argparse
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword


class Authenticator:
    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (self.user, self.password):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


def tls_context(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--auth")
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()

    options = {}
    if args.auth:
        user, password = args.auth.split(":", 1)
        options.update(authenticator=Authenticator(user, password), auth_required=True,
                       auth_require_tls=bool(args.starttls or args.tls))
    if args.starttls:
        options.update(tls_context=tls_context(*args.starttls), require_starttls=True)
    if args.tls:
        options.update(ssl_context=tls_context(*args.tls))
    controller = Controller(Mailbox(args.maildir), hostname=args.host, port=args.port, **options)
    controller.start()
    print("ready", flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
