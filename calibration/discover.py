"""Finding the IP cameras on the shop's network: `python -m calibration discover`.

ONVIF cameras answer a WS-Discovery probe (SOAP over UDP multicast, 239.255.255.250:3702)
for the type NetworkVideoTransmitter with their device service's address; the `wsdiscovery`
library sends the probe and gathers the answers. For each camera the ONVIF media service is
then asked (SOAP over HTTP: GetCapabilities, GetProfiles, GetStreamUri) for the RTSP address of
each stream profile; most cameras want a user for that (WS-Security UsernameToken with a
password digest), others answer anyone. A camera whose stream address cannot be had is still
listed, with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote
from xml.etree.ElementTree import Element

import httpx
from defusedxml import ElementTree

NVT = ("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter")
SOAP = "http://www.w3.org/2003/05/soap-envelope"
DEVICE = "http://www.onvif.org/ver10/device/wsdl"
MEDIA = "http://www.onvif.org/ver10/media/wsdl"
SCHEMA = "http://www.onvif.org/ver10/schema"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"


class OnvifError(RuntimeError):
    """An ONVIF request failed; the message names the address and the cause."""


@dataclass(frozen=True)
class Stream:
    profile: str  # the camera's profile name, e.g. "mainStream"
    width_px: int | None
    height_px: int | None
    codec: str | None  # H264, H265, JPEG
    rtsp_uri: str


@dataclass(frozen=True)
class FoundCamera:
    device_url: str  # the ONVIF device service (XAddr)
    name: str | None  # from the scopes (onvif://www.onvif.org/name/...)
    hardware: str | None
    streams: list[Stream] = field(default_factory=list)
    error: str | None = None  # why the streams are missing


def probe_network(timeout_s: float = 3.0) -> list[tuple[str, list[str]]]:
    """WS-Discovery: (device service URL, scopes) of every NetworkVideoTransmitter that answers
    within `timeout_s`."""
    from wsdiscovery import QName
    from wsdiscovery.discovery import ThreadedWSDiscovery

    discovery = ThreadedWSDiscovery()
    discovery.start()
    try:
        services = discovery.searchServices(types=[QName(*NVT, "dn")], timeout=timeout_s)
    finally:
        discovery.stop()
    found = []
    for service in services:
        scopes = [str(scope) for scope in service.getScopes()]
        found.extend((xaddr, scopes) for xaddr in service.getXAddrs())
    return sorted(set((url, tuple(scopes)) for url, scopes in found), key=lambda f: f[0])  # type: ignore[misc]


def _scope(scopes: list[str], kind: str) -> str | None:
    prefix = f"onvif://www.onvif.org/{kind}/"
    values = [unquote(s[len(prefix) :]) for s in scopes if s.startswith(prefix)]
    return values[0] if values else None


def _security(user: str, password: str) -> str:
    """A WS-Security UsernameToken header with a password digest (ONVIF Core, 5.12)."""
    nonce = os.urandom(16)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
    return (
        f'<s:Header><Security xmlns="{WSSE}" s:mustUnderstand="1"><UsernameToken>'
        f"<Username>{_xml_text(user)}</Username>"
        f'<Password Type="{DIGEST}">{digest}</Password>'
        f"<Nonce>{base64.b64encode(nonce).decode()}</Nonce>"
        f'<Created xmlns="{WSU}">{created}</Created></UsernameToken></Security></s:Header>'
    )


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _call(client: httpx.Client, url: str, body: str, user: str | None, password: str) -> Element:
    """One SOAP 1.2 request; the response's Body element. Raises OnvifError."""
    header = _security(user, password) if user else ""
    envelope = (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}">{header}'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    )
    try:
        response = client.post(
            url, content=envelope, headers={"Content-Type": "application/soap+xml; charset=utf-8"}
        )
    except httpx.HTTPError as exc:
        raise OnvifError(f"{url}: {exc}") from None
    try:
        root = ElementTree.fromstring(response.content)
    except ElementTree.ParseError:
        raise OnvifError(f"{url}: HTTP {response.status_code}, not a SOAP answer") from None
    body_el = root.find(f"{{{SOAP}}}Body")
    fault = None if body_el is None else body_el.find(f"{{{SOAP}}}Fault")
    said = "".join(fault.itertext()).strip() if fault is not None else ""
    if response.status_code in (401, 403) or "NotAuthorized" in said:
        raise OnvifError(f"{url}: not authorised (give --user and --password-file)")
    if fault is not None or body_el is None or response.status_code != 200:
        raise OnvifError(f"{url}: {(said or f'HTTP {response.status_code}')[:200]}")
    return body_el


def stream_uris(
    device_url: str, user: str | None = None, password: str = "", timeout_s: float = 5.0
) -> list[Stream]:
    """The RTSP stream of each media profile of the camera at `device_url`. Raises OnvifError."""
    with httpx.Client(timeout=timeout_s) as client:
        body = _call(
            client,
            device_url,
            f'<GetCapabilities xmlns="{DEVICE}"><Category>Media</Category></GetCapabilities>',
            user,
            password,
        )
        media = body.find(f".//{{{SCHEMA}}}Media/{{{SCHEMA}}}XAddr")
        media_url = media.text.strip() if media is not None and media.text else device_url
        profiles = _call(client, media_url, f'<GetProfiles xmlns="{MEDIA}"/>', user, password)
        streams = []
        for profile in profiles.iter(f"{{{MEDIA}}}Profiles"):
            token = profile.get("token")
            if not token:
                continue
            name = profile.findtext(f"{{{SCHEMA}}}Name") or token
            encoder = profile.find(f"{{{SCHEMA}}}VideoEncoderConfiguration")
            width = height = codec = None
            if encoder is not None:
                codec = encoder.findtext(f"{{{SCHEMA}}}Encoding")
                resolution = encoder.find(f"{{{SCHEMA}}}Resolution")
                if resolution is not None:
                    width = int(resolution.findtext(f"{{{SCHEMA}}}Width") or 0) or None
                    height = int(resolution.findtext(f"{{{SCHEMA}}}Height") or 0) or None
            request = (
                f'<GetStreamUri xmlns="{MEDIA}"><StreamSetup><Stream xmlns="{SCHEMA}">RTP-Unicast</Stream>'
                f'<Transport xmlns="{SCHEMA}"><Protocol>RTSP</Protocol></Transport></StreamSetup>'
                f"<ProfileToken>{_xml_text(token)}</ProfileToken></GetStreamUri>"
            )
            uri = _call(client, media_url, request, user, password).findtext(f".//{{{SCHEMA}}}Uri")
            if uri:
                streams.append(Stream(name, width, height, codec, uri.strip()))
        return streams


def discover(
    timeout_s: float = 3.0, user: str | None = None, password: str = "", found: list | None = None
) -> list[FoundCamera]:
    """Every ONVIF camera answering on the network, with its RTSP streams where it gives them
    (`found`: the WS-Discovery answers to use instead of probing, for tests)."""
    cameras = []
    for device_url, scopes in found if found is not None else probe_network(timeout_s):
        scopes = list(scopes)
        try:
            streams, error = stream_uris(device_url, user, password), None
        except OnvifError as exc:
            streams, error = [], str(exc)
        cameras.append(
            FoundCamera(device_url, _scope(scopes, "name"), _scope(scopes, "hardware"), streams, error)
        )
    return cameras


def lines(cameras: list[FoundCamera]) -> list[str]:
    """The listing `python -m calibration discover` prints."""
    if not cameras:
        return ["no ONVIF camera answered (same network segment? multicast allowed?)"]
    out = []
    for camera in cameras:
        out.append(f"{camera.name or '(no name)'}  {camera.hardware or ''}  {camera.device_url}".rstrip())
        for stream in camera.streams:
            size = f"{stream.width_px}x{stream.height_px}" if stream.width_px else "?"
            out.append(f"  {stream.profile:16s} {stream.codec or '?':5s} {size:>10s}  {stream.rtsp_uri}")
        if camera.error:
            out.append(f"  no stream address: {camera.error}")
    return out
