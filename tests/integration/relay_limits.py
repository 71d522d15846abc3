#!/usr/bin/python3
"""Hostile and crowded clients of dawnd's /mqtt relay for test_hostile_relay.sh
(the limits relay.h names). Standard library only; every loop bounded.

  relay_limits.py HOST:PORT perlogin USER OTHER
        signs in DAWN_WS_RELAY_PER_LOGIN + 1 relays as USER (password pw-USER),
        then one as OTHER; prints each outcome in order ("connack 0" or "close 1013")
  relay_limits.py HOST:PORT full SIGNED WAITING PREFIX
        signs in SIGNED relays, 7 per login (PREFIX01, PREFIX02, ...), then
        upgrades WAITING more and only then sends their CONNECTs; prints
        "waiting: A signed in, R closed 1013"
  relay_limits.py HOST:PORT bigframe BYTES
        before any login, sends one binary frame of BYTES; prints "close CODE" or "open"
  relay_limits.py HOST:PORT squat COUNT BYTES SENT SECONDS
        COUNT upgrades each start a frame of BYTES and send SENT bytes of it;
        prints "holding", then holds them up to SECONDS (or until stdin closes)
"""
import os, select, socket, struct, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dashboard"))
from ws_client import handshake, frame, mqtt_string, remaining, Reader

def connect_packet(user):
    body = mqtt_string("MQTT") + bytes([4, 0xC2]) + struct.pack(">H", 60) + mqtt_string("") + \
        mqtt_string(user) + mqtt_string("pw-" + user)
    return bytes([0x10]) + remaining(len(body)) + body

def outcome(s, rest, deadline=5):
    """"connack N", "close CODE" or "open" (nothing in time)"""
    s.settimeout(deadline)
    r = Reader(s, rest)
    try:
        op, payload = r.frame()
    except (EOFError, OSError, socket.timeout):
        return "open" if isinstance(sys.exc_info()[1], socket.timeout) else "gone"
    if op == 8:
        return "close %d" % struct.unpack(">H", payload[:2])[0]
    return "connack %d" % payload[3] if len(payload) >= 4 and payload[0] == 0x20 else "other"

def upgrade(addr):
    s, head, rest = handshake(addr)
    if " 101 " not in head.split("\r\n")[0]:
        raise SystemExit("not upgraded: " + head.split("\r\n")[0])
    return s, rest

def main():
    addr, mode = sys.argv[1], sys.argv[2]
    keep = []
    if mode == "perlogin":
        user, other = sys.argv[3], sys.argv[4]
        for u in [user] * 9 + [other]:
            s, rest = upgrade(addr)
            s.sendall(frame(connect_packet(u)))
            print(outcome(s, rest), flush=True)
            keep.append(s)
    elif mode == "full":
        signed, waiting, prefix = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        login = lambda i: "%s%02d" % (prefix, i // 7 + 1)
        # in batches of 50 (within the 64 waiting places), not one round trip at a time
        for start in range(0, signed, 50):
            batch = [upgrade(addr) for _ in range(start, min(signed, start + 50))]
            for i, (s, rest) in enumerate(batch):
                s.sendall(frame(connect_packet(login(start + i))))
            for i, (s, rest) in enumerate(batch):
                o = outcome(s, rest)
                if o != "connack 0":
                    raise SystemExit("relay %d: %s" % (start + i, o))
                keep.append(s)
        pend = [upgrade(addr) for _ in range(waiting)]
        for i, (s, rest) in enumerate(pend):
            s.sendall(frame(connect_packet(login(signed + i))))
        res = [outcome(s, rest) for s, rest in pend]
        keep += [s for s, _ in pend]
        print("waiting: %d signed in, %d closed 1013" % (res.count("connack 0"), res.count("close 1013")), flush=True)
    elif mode == "bigframe":
        s, rest = upgrade(addr)
        try:
            s.sendall(frame(b"\0" * int(sys.argv[3])))
        except OSError:
            pass
        print(outcome(s, rest), flush=True)
    elif mode == "squat":
        count, size, sent, hold = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
        for _ in range(count):
            s, rest = upgrade(addr)
            f = frame(b"\0" * size)
            s.settimeout(2)
            try:
                s.sendall(f[:sent])
            except OSError:
                pass
            keep.append(s)
        print("holding", flush=True)
        select.select([sys.stdin], [], [], hold)
    for s in keep:
        s.close()

main()
