"""Asks for Hikvision cameras with hiktools' SADP client and prints what it parsed, as JSON.

Usage: hiktools_probe.py HOST PORT

hiktools sends its inquiry to the SADP multicast group; here it goes by unicast to HOST:PORT instead
(the test runs on loopback, never on a real network), through the client's destination attribute.
Everything else is hiktools' own: the inquiry it builds, its socket, and its parser.
"""
import json
import sys
import uuid

from hiktools import sadp


def main() -> int:
    host, port = sys.argv[1], int(sys.argv[2])
    probe = sadp.fromdict(
        {"Uuid": str(uuid.uuid4()).upper(), "MAC": "ff-ff-ff-ff-ff-ff", "Types": "inquiry"}
    )
    found = []
    with sadp.SADPClient(port=port, timeout=2) as client:
        client._address = (host, port)
        client.write(probe)
        for response in client:
            message = sadp.unmarshal(response.toxml())
            if message is None:
                print("a reply hiktools could not read", file=sys.stderr)
                return 1
            found.append(
                {
                    "kind": type(message).__name__,
                    **{
                        key: message[key]
                        for key in (
                            "DeviceSN",
                            "MAC",
                            "IPv4Address",
                            "HttpPort",
                            "Activated",
                            "DeviceDescription",
                            "SoftwareVersion",
                            "PasswordResetAbility",
                        )
                        if key in message
                    },
                }
            )
    json.dump(found, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
