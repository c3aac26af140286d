"""Type names and constants for the RTP parameter dictionaries of the wire format.

RTP capabilities and parameters stay plain dictionaries with the camelCase keys
of mediasoup's JSON shapes, so they pass to mediasoup-client unchanged. The
aliases below name what a dictionary holds; ``sfu.ortc`` validates them.
"""

from __future__ import annotations

from typing import Any, Literal

MediaKind = Literal["audio", "video"]
ProducerType = Literal["simple", "simulcast", "svc"]
RtpHeaderExtensionDirection = Literal["sendrecv", "sendonly", "recvonly", "inactive"]

# {"codecs": [RtpCodecCapability], "headerExtensions": [RtpHeaderExtension]}
RtpCapabilities = dict[str, Any]
# {"kind", "mimeType", "preferredPayloadType"?, "clockRate", "channels"?,
#  "parameters", "rtcpFeedback"}
RtpCodecCapability = dict[str, Any]
# {"kind", "uri", "preferredId", "preferredEncrypt", "direction"}
RtpHeaderExtension = dict[str, Any]
# {"mid"?, "codecs", "headerExtensions", "encodings", "rtcp", "msid"?}
RtpParameters = dict[str, Any]
# {"mimeType", "payloadType", "clockRate", "channels"?, "parameters", "rtcpFeedback"}
RtpCodecParameters = dict[str, Any]
# {"uri", "id", "encrypt", "parameters"}
RtpHeaderExtensionParameters = dict[str, Any]
# {"ssrc"?, "rid"?, "codecPayloadType"?, "rtx"?: {"ssrc"}, "dtx", "scalabilityMode"?,
#  "maxBitrate"?, plus browser fields such as "active" that pass through}
RtpEncodingParameters = dict[str, Any]
# {"type", "parameter"}
RtcpFeedback = dict[str, Any]
# {"cname"?, "reducedSize"}
RtcpParameters = dict[str, Any]
# {"codecs": [{"payloadType", "mappedPayloadType"}],
#  "encodings": [{"ssrc"?, "rid"?, "scalabilityMode"?, "mappedSsrc"}]}
RtpMapping = dict[str, Any]
# {"streamId", "ordered", "maxPacketLifeTime"?, "maxRetransmits"?}
SctpStreamParameters = dict[str, Any]

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
REPAIRED_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
TRANSPORT_WIDE_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
DEPENDENCY_DESCRIPTOR_URI = (
    "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension"
)
VIDEO_ORIENTATION_URI = "urn:3gpp:video-orientation"
ABS_CAPTURE_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time"
PLAYOUT_DELAY_URI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
PACKET_ID_URI = "urn:mediasoup:params:rtp-hdrext:packet-id"

# mediasoup-client adds a "probator" m-section after the first video consumer and
# receives bandwidth-probing padding on it with this payload type and SSRC, so
# a router never gives payload type 127 to a codec.
PROBATOR_PAYLOAD_TYPE = 127
PROBATOR_SSRC = 1234
