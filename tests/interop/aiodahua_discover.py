"""Asks for Dahua cameras with aiodahua's DHIP discovery and prints what it parsed, as JSON.

Usage: aiodahua_discover.py HOST

aiodahua sends its own DHDiscover.search by unicast to HOST (its `targets` argument; the test runs on
loopback, never on a real network) and reads every reply with its own decoder.
"""
import asyncio
import json
import sys

from aiodahua.discovery import async_discover


async def main() -> int:
    devices = await async_discover(targets=[sys.argv[1]], timeout=1.5)
    json.dump(
        [
            {
                "mac": d.mac,
                "ip": d.ip,
                "netmask": d.netmask,
                "dhcp": d.dhcp,
                "serial": d.serial,
                "device_type": d.device_type,
                "version": d.version,
                "http_port": d.http_port,
                "init": d.raw.get("Init"),
            }
            for d in devices
        ],
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
