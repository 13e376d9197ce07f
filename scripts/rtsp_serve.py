"""A real RTSP server for tests and benchmarks: GStreamer's (gst-rtsp-server) serving an H.264
MP4 at its own frame rate, as an IP camera does, over RTP on TCP or UDP (the client chooses).

Runs under the system Python, which has PyGObject and the GStreamer typelibs from Debian
(`python3-gi`, `gir1.2-gst-rtsp-server-1.0`, `gstreamer1.0-plugins-good` and `-bad`, installed by
scripts/bootstrap.sh); the project's venv does not need them. The stream is not re-encoded:
the file's H.264 access units are packetised as they are, so the server costs little CPU. Each
client gets its own pipeline from the start of the file; at the file's end the session ends
(RTCP BYE), which a client sees as the camera hanging up.

    /usr/bin/python3 scripts/rtsp_serve.py CLIP.mp4 --port 8554 [--path /cam] [--user U --password P]

Prints "ready rtsp://127.0.0.1:PORT/PATH" once it listens.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clip", help="H.264 in MP4")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--user", help="require Basic/Digest authentication as this user")
    parser.add_argument("--password", default="")
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    location = args.clip.replace("\\", "\\\\").replace('"', '\\"')
    # SPS and PPS go in the SDP (sprop-parameter-sets). Repeated in band before each key frame
    # (config-interval=-1) this pipeline's stream decodes to garbage in FFmpeg, OpenCV's build and
    # PyAV's alike, its key frames flagged corrupt: an artefact of this server, not of cameras
    factory.set_launch(
        f'( filesrc location="{location}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 )'
    )
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_role_from_structure(
            Gst.Structure.new_from_string(
                "viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )
        )
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on port {args.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f"ready rtsp://127.0.0.1:{args.port}{args.path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
