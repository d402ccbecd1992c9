#!/usr/bin/env python3
"""Writes conf/demo.snmprec: a plausible 8-port access switch (system, ifTable, ifXTable).

The values are made up but consistent: counters grow with the port number, the uplink (port 8)
runs at 10 Gb/s (ifSpeed saturates at 2^32-1, ifHighSpeed says 10000), ports 3 and 6 are down.
"""
import pathlib

ports = range(1, 9)
lines = []
def add(oid, tag, value):
    lines.append(f"{oid}|{tag}|{value}")

add("1.3.6.1.2.1.1.1.0", 4, "Demo access switch, firmware 4.2.1 (simulated by snmpwarden)")
add("1.3.6.1.2.1.1.2.0", 6, "1.3.6.1.4.1.8072.3.2.10")
add("1.3.6.1.2.1.1.3.0", 67, 360012345)
add("1.3.6.1.2.1.1.4.0", 4, "noc@example.net")
add("1.3.6.1.2.1.1.5.0", 4, "demo-sw-01")
add("1.3.6.1.2.1.1.6.0", 4, "Lab rack 3, row B")
add("1.3.6.1.2.1.1.7.0", 2, 6)
add("1.3.6.1.2.1.2.1.0", 2, len(ports))
down = {3, 6}
for p in ports:
    uplink = p == 8
    add(f"1.3.6.1.2.1.2.2.1.1.{p}", 2, p)
    add(f"1.3.6.1.2.1.2.2.1.2.{p}", 4, f"GigabitEthernet0/{p}" if not uplink else "TenGigabitEthernet1/1")
    add(f"1.3.6.1.2.1.2.2.1.3.{p}", 2, 6)
    add(f"1.3.6.1.2.1.2.2.1.4.{p}", 2, 1500 if not uplink else 9216)
    add(f"1.3.6.1.2.1.2.2.1.5.{p}", 66, 1000000000 if not uplink else 4294967295)
    add(f"1.3.6.1.2.1.2.2.1.6.{p}", "4x", f"0050569a{p:02x}00")
    add(f"1.3.6.1.2.1.2.2.1.7.{p}", 2, 1)
    add(f"1.3.6.1.2.1.2.2.1.8.{p}", 2, 2 if p in down else 1)
    add(f"1.3.6.1.2.1.2.2.1.9.{p}", 67, 1200 * p)
    add(f"1.3.6.1.2.1.2.2.1.10.{p}", 65, (p * 987654321) % 2**32)
    add(f"1.3.6.1.2.1.2.2.1.11.{p}", 65, p * 1234567)
    add(f"1.3.6.1.2.1.2.2.1.13.{p}", 65, p * 3)
    add(f"1.3.6.1.2.1.2.2.1.14.{p}", 65, p % 3)
    add(f"1.3.6.1.2.1.2.2.1.16.{p}", 65, (p * 123456789) % 2**32)
    add(f"1.3.6.1.2.1.2.2.1.17.{p}", 65, p * 2345678)
    add(f"1.3.6.1.2.1.31.1.1.1.1.{p}", 4, f"Gi0/{p}" if not uplink else "Te1/1")
    add(f"1.3.6.1.2.1.31.1.1.1.6.{p}", 70, p * 98765432101 + (10**13 if uplink else 0))
    add(f"1.3.6.1.2.1.31.1.1.1.7.{p}", 70, p * 123456789)
    add(f"1.3.6.1.2.1.31.1.1.1.10.{p}", 70, p * 12345678901 + (10**13 if uplink else 0))
    add(f"1.3.6.1.2.1.31.1.1.1.11.{p}", 70, p * 23456789)
    add(f"1.3.6.1.2.1.31.1.1.1.15.{p}", 66, 1000 if not uplink else 10000)
    add(f"1.3.6.1.2.1.31.1.1.1.18.{p}", 4, "uplink to core" if uplink else (f"desk {p}" if p not in down else ""))

def key(line):
    return [int(a) for a in line.split("|")[0].split(".")]
lines.sort(key=key)
out = pathlib.Path(__file__).resolve().parent.parent / "conf" / "demo.snmprec"
out.write_text("\n".join(lines) + "\n")
print(f"wrote {out} ({len(lines)} objects)")
