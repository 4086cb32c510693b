"""A local SMTP server for the alert tests (aiosmtpd), on loopback.

usage: smtp_server.py PORT OUTDIR USERNAME PASSWORD [CERT KEY]

Listens on 127.0.0.1:PORT, requires AUTH (PLAIN or LOGIN, over the plain connection: loopback)
and accepts USERNAME/PASSWORD only, and writes each message it receives to OUTDIR/<n>.json as
{"mail_from", "rcpt_tos", "authenticated", "auth_login", "tls", "data"}. With CERT and KEY
(PEM files) it offers STARTTLS and requires it before anything else (AUTH included), as a
submission server does. Prints READY once it
listens; stops when its standard input closes (the test ends) or on SIGTERM.
"""

import json
import logging
import os
import ssl
import sys
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def main():
    # Loopback only: the warning about AUTH without TLS, and the per-session log, are noise here.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    port, outdir, username, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    tls = None
    if len(sys.argv) > 6:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(sys.argv[5], sys.argv[6])
    os.makedirs(outdir, exist_ok=True)
    count = [0]

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            count[0] += 1
            record = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "authenticated": session.authenticated,
                "auth_login": (session.auth_data.decode() if isinstance(session.auth_data, bytes)
                               else None),
                "tls": session.ssl is not None,
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

    extra = {"tls_context": tls, "require_starttls": True} if tls else {}
    controller = Controller(Handler(), hostname="127.0.0.1", port=port,
                            authenticator=authenticator, auth_required=True,
                            auth_require_tls=tls is not None, **extra)
    controller.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
