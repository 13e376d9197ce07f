"""An ONVIF camera's discovery and media services on loopback, for `python -m calibration
discover`: a WS-Discovery responder (the wsdiscovery library's publisher, answering probes for
NetworkVideoTransmitter with the device service's address) and the device/media SOAP service
(GetCapabilities, GetProfiles, GetStreamUri) checking a WS-Security UsernameToken digest."""

from __future__ import annotations

import base64
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from defusedxml import ElementTree

from calibration.discover import DEVICE, MEDIA, SCHEMA, SOAP, WSSE, WSU

ENVELOPE = '<?xml version="1.0"?><s:Envelope xmlns:s="{soap}"><s:Body>{body}</s:Body></s:Envelope>'


class OnvifCamera:
    """Serves one media profile whose stream is `rtsp_uri`; requests need `user`/`password`
    when `user` is set. `start()` also publishes it on WS-Discovery."""

    def __init__(
        self, rtsp_uri: str, name: str = "Shop%20Entrance", user: str | None = None, password: str = ""
    ):
        self.rtsp_uri, self.name, self.user, self.password = rtsp_uri, name, user, password
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, body = camera.answer(request, self.server.server_address[1])
                payload = ENVELOPE.format(soap=SOAP, body=body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/soap+xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.device_url = f"http://127.0.0.1:{self.http.server_address[1]}/onvif/device_service"
        self._publisher = None

    def authorised(self, root) -> bool:
        if self.user is None:
            return True
        token = root.find(f".//{{{WSSE}}}UsernameToken")
        if token is None or token.findtext(f"{{{WSSE}}}Username") != self.user:
            return False
        nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce") or "")
        created = token.findtext(f"{{{WSU}}}Created") or ""
        expected = base64.b64encode(hashlib.sha1(nonce + created.encode() + self.password.encode()).digest())
        return token.findtext(f"{{{WSSE}}}Password") == expected.decode()

    def answer(self, request: bytes, port: int) -> tuple[int, str]:
        root = ElementTree.fromstring(request)
        if not self.authorised(root):
            fault = (
                "<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode>"
                '<s:Value xmlns:ter="http://www.onvif.org/ver10/error">ter:NotAuthorized</s:Value>'
                "</s:Subcode></s:Code><s:Reason><s:Text>Sender not authorized</s:Text></s:Reason></s:Fault>"
            )
            return 400, fault
        body = root.find(f"{{{SOAP}}}Body")
        action = body[0].tag.rsplit("}", 1)[1]
        if action == "GetCapabilities":
            media = f"http://127.0.0.1:{port}/onvif/media_service"
            return 200, (
                f'<GetCapabilitiesResponse xmlns="{DEVICE}"><Capabilities xmlns="{SCHEMA}"><Media>'
                f"<XAddr>{media}</XAddr></Media></Capabilities></GetCapabilitiesResponse>"
            )
        if action == "GetProfiles":
            return 200, (
                f'<GetProfilesResponse xmlns="{MEDIA}"><Profiles token="profile_1" fixed="true">'
                f'<Name xmlns="{SCHEMA}">mainStream</Name>'
                f'<VideoEncoderConfiguration xmlns="{SCHEMA}" token="v1"><Name>v1</Name>'
                "<Encoding>H264</Encoding><Resolution><Width>768</Width><Height>576</Height>"
                "</Resolution></VideoEncoderConfiguration></Profiles></GetProfilesResponse>"
            )
        if action == "GetStreamUri":
            return 200, (
                f'<GetStreamUriResponse xmlns="{MEDIA}"><MediaUri><Uri xmlns="{SCHEMA}">{self.rtsp_uri}</Uri>'
                f"</MediaUri></GetStreamUriResponse>"
            )
        return 400, f"<s:Fault><s:Reason><s:Text>unknown action {action}</s:Text></s:Reason></s:Fault>"

    def start(self) -> OnvifCamera:
        from wsdiscovery import QName, Scope
        from wsdiscovery.publishing import ThreadedWSPublishing

        class Publisher(ThreadedWSPublishing):
            """Answers a probe on the address family it came by only: the library queues each
            answer on both its IPv4 and IPv6 threads, and the one of the other family dies
            sending it."""

            def sendUnicastMessage(self, env, host, port, initialDelay=0, unicast_num=4):
                thread = self._networkingThread_v6 if ":" in host else self._networkingThread_v4
                if thread is not None:
                    thread.addUnicastMessage(env, host, port, initialDelay, unicast_num)

        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self._publisher = Publisher()
        self._publisher.start()
        self._publisher.publishService(
            types=[QName("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter", "dn")],
            scopes=[
                Scope(f"onvif://www.onvif.org/name/{self.name}"),
                Scope("onvif://www.onvif.org/hardware/TC-1"),
            ],
            xAddrs=[self.device_url],
        )
        return self

    def stop(self) -> None:
        if self._publisher is not None:
            self._publisher.stop()
        self.http.shutdown()
        self.http.server_close()

    def __enter__(self) -> OnvifCamera:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
