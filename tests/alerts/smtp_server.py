"""A local SMTP server for the alert tests (aiosmtpd), on loopback.

usage: smtp_server.py PORT OUTDIR USERNAME PASSWORD

Listens on 127.0.0.1:PORT, accepts AUTH PLAIN/LOGIN for USERNAME/PASSWORD only (over the
plain connection: loopback), and writes each message it receives to OUTDIR/<n>.json as
{"mail_from", "rcpt_tos", "auth_login", "data"}. Prints READY once it listens; stops when its
standard input closes (the test ends) or on SIGTERM.
"""

import json
import os
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def main():
    port, outdir, username, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    os.makedirs(outdir, exist_ok=True)
    count = [0]

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            count[0] += 1
            record = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "auth_login": (session.login_data.decode() if isinstance(session.login_data, bytes)
                               else session.login_data),
                "data": envelope.content.decode("utf-8", "replace"),
            }
            tmp = os.path.join(outdir, f".{count[0]}.tmp")
            with open(tmp, "w") as f:
                json.dump(record, f)
            os.rename(tmp, os.path.join(outdir, f"{count[0]}.json"))
            return "250 Message accepted for delivery"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == username
              and auth_data.password.decode() == password)
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

    controller = Controller(Handler(), hostname="127.0.0.1", port=port,
                            authenticator=authenticator, auth_require_tls=False)
    controller.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
