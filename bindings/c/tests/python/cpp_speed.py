"""A Python test bench on a C++ ECU's topic and a Rust node's service.

    cpp_speed.py <node.json5> <count>

Subscribes to chassis/speed (the type from the C++ publisher's announcement, decoded through the
schema the C++ side serves), checks <count> samples (kph = 0.5 * i, odometer_m = i), then calls
body/set_drive_mode, served by Rust. Speaks the line protocol of vbus-test-support ("VBUS ...").
"""

import sys

import vbus


def say(line: str) -> None:
    print(f"VBUS {line}", flush=True)


def main() -> int:
    config, count = sys.argv[1], int(sys.argv[2])
    with vbus.Node(file=config) as node:
        say("open")
        speed = node.subscriber("chassis/speed", "demo.vehicle.VehicleSpeed", schema_timeout=30.0)
        say("subscribed")
        for i in range(1, count + 1):
            s = speed.recv(timeout=10.0)
            want = {"kph": 0.5 * i, "odometer_m": float(i)}
            if s.seq != i or s.value != want:
                say(f"error sample {i}: seq {s.seq}, {s.value}, expected {want}")
                return 1
        stats = speed.stats()
        say(f"speed {count} lost={stats['lost']} mismatched={stats['mismatched']}")
        # The topic's QoS comes from its schema (the C++ side serves it): chassis/speed has a
        # 20 ms period, so a 60 ms deadline, missed once the C++ ECU stops publishing.
        event = speed.next_event(timeout=10.0)
        say(f"event {event['kind']} deadline={event.get('deadline')}" if event else "event none")
        reply = node.call("body/set_drive_mode", {"mode": "Sport", "requested_by": "python"}, timeout=5.0)
        say(f"reply accepted={reply['accepted']} reason={reply.get('reason')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
