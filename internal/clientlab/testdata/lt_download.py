#!/usr/bin/python3
"""Downloads one torrent with libtorrent-rasterbar (python3-libtorrent) and
prints one JSON line: {"ok", "seconds", "transfer_seconds", "bytes",
"transports", "error"}.

usage: lt_download.py SOURCE SAVE_DIR [--transport utp|tcp|both] [--timeout S]
SOURCE is a .torrent path or a magnet URI. Run by internal/clientlab.
"""
import argparse
import json
import sys
import time

import libtorrent as lt

# peer_flags_t bit of libtorrent 2.0 (include/libtorrent/peer_info.hpp:
# holepunched 15, i2p_socket 16, utp_socket 17), which the Python binding
# does not export.
UTP_SOCKET = 1 << 17


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("save_dir")
    ap.add_argument("--transport", choices=["utp", "tcp", "both"], default="both")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--port", type=int, default=6882)
    a = ap.parse_args()

    utp = a.transport in ("utp", "both")
    tcp = a.transport in ("tcp", "both")
    ses = lt.session({
        "listen_interfaces": "0.0.0.0:%d" % a.port,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": utp,
        "enable_incoming_utp": utp,
        "enable_outgoing_tcp": tcp,
        "enable_incoming_tcp": tcp,
        "alert_mask": 0,
    })
    if a.source.startswith("magnet:"):
        p = lt.parse_magnet_uri(a.source)
    else:
        p = lt.add_torrent_params()
        p.ti = lt.torrent_info(a.source)
    p.save_path = a.save_dir
    p.url_seeds = []  # the pod's seeder must deliver every byte
    start = time.monotonic()
    h = ses.add_torrent(p)
    first = None
    transports = set()
    out = {"ok": False}
    while True:
        s = h.status()
        if s.total_payload_download > 0 and first is None:
            first = time.monotonic()
        for pi in h.get_peer_info():
            transports.add("utp" if int(pi.flags) & UTP_SOCKET else "tcp")
        if s.is_seeding:
            end = time.monotonic()
            out = {
                "ok": True,
                "seconds": end - start,
                "transfer_seconds": end - (first or start),
                "bytes": s.total_wanted,
            }
            break
        if time.monotonic() - start > a.timeout:
            out = {"ok": False, "error": "timeout at %.1f%% (%s, %d peers)" % (s.progress * 100, s.state, s.num_peers)}
            break
        time.sleep(0.05)
    out["transports"] = sorted(transports)
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
