"""Logs in to a Dahua camera with dahua-rpc-api and reads who it is, then tries a wrong password; prints
what it got, as JSON.

Usage: dahua_rpc_login.py HOST PORT USER PASSWORD
"""
import json
import sys

from dahua.client import DahuaRpc


def main() -> int:
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    client = DahuaRpc(host=host, port=port)
    client.login(user, password)
    seen = {
        "serial": client.magic_box.get_serial_number(),
        "type": client.magic_box.get_device_type(),
        "version": client.magic_box.get_software_version(),
    }
    client.logout()
    wrong = DahuaRpc(host=host, port=port)
    try:
        wrong.login(user, password + "-wrong")
        seen["wrong_password"] = "accepted"
    except Exception as error:  # the library's own exception class names the refusal
        seen["wrong_password"] = type(error).__name__
    json.dump(seen, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
