#!/usr/bin/env python3
"""ONVIF tooling written by others talking to one simulated camera.

onvif-zeep builds its requests from the official ONVIF WSDLs and parses every reply against the ONVIF
schemas, so a reply a real camera would not send fails here. Prints one JSON object with what it read;
the Rust test (tests/it/interop.rs) checks it against the simulator.

Usage: onvif_zeep_client.py HOST PORT USER PASSWORD
"""

import json
import sys

from onvif import ONVIFCamera
from onvif.exceptions import ONVIFError
from zeep.exceptions import Fault


def fault_text(call):
    """The fault a call raised, as 'reason [subcodes]', or None. onvif-zeep wraps zeep's Fault."""
    try:
        call()
    except ONVIFError as error:
        fault = error.__context__
        if isinstance(fault, Fault):
            return f"{fault.message} {[str(s) for s in (fault.subcodes or [])]}"
        return str(error)
    return None


def main():
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    camera = ONVIFCamera(host, port, user, password, adjust_time=True)
    device = camera.devicemgmt
    info = device.GetDeviceInformation()
    clock = device.GetSystemDateAndTime()
    interfaces = device.GetNetworkInterfaces()
    scopes = device.GetScopes()
    services = device.GetServices({"IncludeCapability": False})
    device.CreateUsers({"User": [{"Username": "zeepuser", "Password": "Zeep#User1", "UserLevel": "Operator"}]})
    clash = fault_text(
        lambda: device.CreateUsers(
            {"User": [{"Username": "zeepuser", "Password": "Zeep#User1", "UserLevel": "Operator"}]}
        )
    )
    users_with_zeep = sorted((u.Username, u.UserLevel) for u in device.GetUsers())
    device.SetUser({"User": [{"Username": "zeepuser", "Password": "Zeep#User2", "UserLevel": "User"}]})
    operator_level = [u.UserLevel for u in device.GetUsers() if u.Username == "zeepuser"]
    device.DeleteUsers({"Username": ["zeepuser"]})
    missing = fault_text(lambda: device.DeleteUsers({"Username": ["zeepuser"]}))
    print(
        json.dumps(
            {
                "manufacturer": info.Manufacturer,
                "model": info.Model,
                "firmware": info.FirmwareVersion,
                "serial": info.SerialNumber,
                "utc_year": clock.UTCDateTime.Date.Year,
                "mac": interfaces[0].Info.HwAddress,
                "scopes": [s.ScopeItem for s in scopes],
                "services": [s.Namespace for s in services],
                "users_with_zeep": users_with_zeep,
                "level_after_set_user": operator_level,
                "clash": clash,
                "delete_missing": missing,
                "users_after": [u.Username for u in device.GetUsers()],
            }
        )
    )


if __name__ == "__main__":
    main()
