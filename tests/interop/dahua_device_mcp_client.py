"""Logs in to a Dahua camera with dahua-device-mcp's client (the two-step login over /RPC2_Login), reads
who it is in clear, then again through system.multiSec (Security.getEncryptInfo, the RSA-wrapped
AES-128 key, the encrypted request and the camera's encrypted answer); prints what it got, as JSON.
A camera that does not offer AES with zero padding is refused by the client before anything is sent
encrypted; that refusal is printed too.

Usage: dahua_device_mcp_client.py HOST PORT USER PASSWORD
"""
import asyncio
import json
import sys

from dahua_device_mcp.client import DahuaDeviceClient


async def main() -> int:
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    client = DahuaDeviceClient(f"http://{host}:{port}", user, password, timeout=10)
    seen = {}
    try:
        await client.login()
        seen["serial"] = (await client.rpc("magicBox.getSerialNo"))["params"]["sn"]
        seen["type"] = (await client.rpc("magicBox.getDeviceType"))["params"]["type"]
        info = (await client.rpc("Security.getEncryptInfo", {}))["params"]
        seen["cipher"] = info.get("cipher")
        seen["padding"] = info.get("AESPadding")
        try:
            answer = await client.secure_rpc("magicBox.getSerialNo", None)
            seen["secure_serial"] = answer["params"]["sn"]
        except RuntimeError as error:  # the client's refusal of the camera's offer
            seen["secure_refused"] = type(error).__name__
    finally:
        await client.close()
    json.dump(seen, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
