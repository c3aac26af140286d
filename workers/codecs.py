"""Video payload inspection: key-frame detection and payload descriptors.

The worker never decodes media. It reads only the first bytes of an RTP payload, for two
purposes. Key-frame detection gates forwarding after a sync and clears pending key-frame
requests. The VP8 and VP9 layer fields drive simulcast and SVC forwarding.

Every function takes the packet buffer with the payload bounds (`start`, `end`), so the hot
path passes `RtpPacket.buffer`, `payload_offset` and `payload_end` without slicing.
`*_is_key_frame` functions return False for a truncated or malformed payload, while the
descriptor `parse` methods raise ValueError naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

from workers.rtp import RtpPacket

KeyFrameDetector = Callable[[bytes, int, int | None], bool]


# --- VP8 (RFC 7741) ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Vp8PayloadDescriptor:
    """The VP8 payload descriptor (RFC 7741 §4.2) and the key-frame flag of the payload header.

    Optional fields are None when the descriptor omits them. `size` is the descriptor length
    in bytes, so the VP8 payload starts at `start + size`.
    """

    non_reference: bool
    start_of_partition: bool
    partition_index: int
    picture_id: int | None
    two_byte_picture_id: bool
    tl0_pic_idx: int | None
    tid: int | None
    layer_sync: bool
    key_idx: int | None
    size: int
    is_key_frame: bool

    @classmethod
    def parse(cls, data: bytes, start: int = 0, end: int | None = None) -> Self:
        """Parse the descriptor at `data[start:end]`, raising ValueError when it is truncated."""
        if end is None:
            end = len(data)
        if start >= end:
            raise ValueError("VP8 payload is empty")
        first = data[start]
        offset = start + 1
        picture_id = tl0_pic_idx = tid = key_idx = None
        two_byte_picture_id = layer_sync = False

        if first & 0x80:
            offset = _need(offset, 1, end, "VP8 extension byte")
            extension = data[offset - 1]
            if extension & 0x80:
                offset = _need(offset, 1, end, "VP8 picture ID")
                picture_id = data[offset - 1] & 0x7F
                if data[offset - 1] & 0x80:
                    offset = _need(offset, 1, end, "VP8 15-bit picture ID")
                    picture_id = picture_id << 8 | data[offset - 1]
                    two_byte_picture_id = True
            if extension & 0x40:
                offset = _need(offset, 1, end, "VP8 TL0PICIDX")
                tl0_pic_idx = data[offset - 1]
            if extension & 0x30:
                offset = _need(offset, 1, end, "VP8 TID/KEYIDX")
                byte = data[offset - 1]
                if extension & 0x20:
                    tid = byte >> 6
                    layer_sync = bool(byte & 0x20)
                if extension & 0x10:
                    key_idx = byte & 0x1F

        start_of_partition = bool(first & 0x10)
        partition_index = first & 0x07
        # RFC 7741 §4.3: the payload header starts partition 0, and its lowest bit is the
        # inverse key frame flag P of the VP8 frame tag (RFC 6386 §9.1).
        is_key_frame = (
            start_of_partition and partition_index == 0 and offset < end and not data[offset] & 0x01
        )
        return cls(
            non_reference=bool(first & 0x20),
            start_of_partition=start_of_partition,
            partition_index=partition_index,
            picture_id=picture_id,
            two_byte_picture_id=two_byte_picture_id,
            tl0_pic_idx=tl0_pic_idx,
            tid=tid,
            layer_sync=layer_sync,
            key_idx=key_idx,
            size=offset - start,
            is_key_frame=is_key_frame,
        )


def _need(offset: int, count: int, end: int, field_name: str) -> int:
    if offset + count > end:
        raise ValueError(
            f"{field_name} is truncated: needs byte {offset + count}, payload ends at {end}"
        )
    return offset + count


def vp8_is_key_frame(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """Return whether the VP8 payload starts a key frame.

    Same rule as `Vp8PayloadDescriptor.parse(...).is_key_frame`, without building the
    descriptor, because it runs for every received VP8 packet.
    """
    if end is None:
        end = len(data)
    if start >= end:
        return False
    first = data[start]
    # S set and PID 0: the packet starts partition 0, where the payload header is.
    if first & 0x17 != 0x10:
        return False
    offset = start + 1
    if first & 0x80:
        if offset >= end:
            return False
        extension = data[offset]
        offset += 1
        if extension & 0x80:
            if offset >= end:
                return False
            offset += 2 if data[offset] & 0x80 else 1
        if extension & 0x40:
            offset += 1
        if extension & 0x30:
            offset += 1
    return offset < end and not data[offset] & 0x01


# --- VP9 (RFC 9628) ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Vp9PayloadDescriptor:
    """The VP9 payload descriptor (RFC 9628 §4.2).

    `tid`, `sid`, `switching_up` and `inter_layer_dependency` come from the layer indices and
    are None without them. `tl0_pic_idx` is present only in non-flexible mode.
    """

    inter_picture_predicted: bool
    flexible: bool
    start_of_frame: bool
    end_of_frame: bool
    picture_id: int | None
    two_byte_picture_id: bool
    tid: int | None
    sid: int | None
    switching_up: bool
    inter_layer_dependency: bool
    tl0_pic_idx: int | None
    has_scalability_structure: bool
    size: int

    @property
    def is_key_frame(self) -> bool:
        """Whether this packet starts a key frame: not inter-predicted, B set, spatial layer 0."""
        return not self.inter_picture_predicted and self.start_of_frame and not self.sid

    @classmethod
    def parse(cls, data: bytes, start: int = 0, end: int | None = None) -> Self:
        """Parse the descriptor at `data[start:end]`, raising ValueError when it is truncated."""
        if end is None:
            end = len(data)
        if start >= end:
            raise ValueError("VP9 payload is empty")
        first = data[start]
        offset = start + 1
        predicted = bool(first & 0x40)
        flexible = bool(first & 0x10)
        picture_id = tid = sid = tl0_pic_idx = None
        two_byte_picture_id = switching_up = inter_layer_dependency = False

        if first & 0x80:
            offset = _need(offset, 1, end, "VP9 picture ID")
            picture_id = data[offset - 1] & 0x7F
            if data[offset - 1] & 0x80:
                offset = _need(offset, 1, end, "VP9 15-bit picture ID")
                picture_id = picture_id << 8 | data[offset - 1]
                two_byte_picture_id = True
        if first & 0x20:
            offset = _need(offset, 1, end, "VP9 layer indices")
            layers = data[offset - 1]
            tid = layers >> 5
            switching_up = bool(layers & 0x10)
            sid = (layers >> 1) & 0x07
            inter_layer_dependency = bool(layers & 0x01)
            if not flexible:
                offset = _need(offset, 1, end, "VP9 TL0PICIDX")
                tl0_pic_idx = data[offset - 1]
        if flexible and predicted:
            # Up to 3 reference indices, each with an N bit that announces another one.
            for _ in range(3):
                offset = _need(offset, 1, end, "VP9 P_DIFF")
                if not data[offset - 1] & 0x01:
                    break
        if first & 0x02:
            offset = _skip_vp9_scalability_structure(data, offset, end)

        return cls(
            inter_picture_predicted=predicted,
            flexible=flexible,
            start_of_frame=bool(first & 0x08),
            end_of_frame=bool(first & 0x04),
            picture_id=picture_id,
            two_byte_picture_id=two_byte_picture_id,
            tid=tid,
            sid=sid,
            switching_up=switching_up,
            inter_layer_dependency=inter_layer_dependency,
            tl0_pic_idx=tl0_pic_idx,
            has_scalability_structure=bool(first & 0x02),
            size=offset - start,
        )


def _skip_vp9_scalability_structure(data: bytes, offset: int, end: int) -> int:
    # RFC 9628 §4.2.1: N_S(3) Y G RSV(3), then N_S+1 resolutions when Y, then the picture
    # group description when G.
    offset = _need(offset, 1, end, "VP9 scalability structure")
    header = data[offset - 1]
    if header & 0x10:
        offset = _need(offset, 4 * ((header >> 5) + 1), end, "VP9 SS resolutions")
    if header & 0x08:
        offset = _need(offset, 1, end, "VP9 SS picture group count")
        for _ in range(data[offset - 1]):
            offset = _need(offset, 1, end, "VP9 SS picture group")
            reference_count = (data[offset - 1] >> 2) & 0x03
            offset = _need(offset, reference_count, end, "VP9 SS picture group P_DIFF")
    return offset


def vp9_is_key_frame(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """Return whether the VP9 payload starts a key frame (P=0, B=1, spatial layer 0).

    Same rule as `Vp9PayloadDescriptor.parse(...).is_key_frame`, reading only the fields it
    needs, because it runs for every received VP9 packet.
    """
    if end is None:
        end = len(data)
    if start >= end:
        return False
    first = data[start]
    if first & 0x48 != 0x08:
        return False
    if first & 0x02:
        # A scalability structure comes only with the first packet of a key picture, so the
        # full parse is rare.
        try:
            return Vp9PayloadDescriptor.parse(data, start, end).is_key_frame
        except ValueError:
            return False
    offset = start + 1
    if first & 0x80:
        if offset >= end:
            return False
        offset += 2 if data[offset] & 0x80 else 1
    if first & 0x20:
        if offset >= end or data[offset] & 0x0E:
            return False
        offset += 1 if first & 0x10 else 2
    return offset <= end


# --- H.264 (RFC 6184) -------------------------------------------------------------------------

H264_NAL_IDR = 5
H264_NAL_SPS = 7
H264_NAL_STAP_A = 24
H264_NAL_FU_A = 28


def _h264_starts_key_frame(nal_type: int, data: bytes, offset: int, end: int) -> bool:
    """Return whether a NAL unit of `nal_type`, whose payload starts at `offset`, starts a key
    frame: an SPS, or the first slice of an IDR picture.

    The slice header begins with first_mb_in_slice as ue(v) (H.264 §7.3.3), and the value 0
    is the single bit 1. So the top bit of the first byte is set only in the first slice of a
    picture. Encoders such as x264 split a frame into several slices.
    """
    if nal_type == H264_NAL_SPS:
        return True
    return nal_type == H264_NAL_IDR and offset < end and data[offset] >= 0x80


def h264_is_key_frame(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """Return whether the H.264 payload starts a key frame.

    True when the packet carries an SPS (NAL type 7) or the start of the first slice of an
    IDR picture (type 5). Either may come as a single NAL unit (RFC 6184 §5.6), inside a
    STAP-A (§5.7.1), or as the first fragment of an FU-A (§5.8).

    mediasoup counts only the SPS, because an IDR is undecodable without it. Senders that
    put SPS and PPS in a STAP-A right before each IDR, as aiortc does, get the same packet
    flagged by both rules. The IDR rule also accepts senders that repeat no SPS.
    """
    if end is None:
        end = len(data)
    if start >= end:
        return False
    nal_type = data[start] & 0x1F
    if nal_type == H264_NAL_STAP_A:
        offset = start + 1
        while offset + 3 <= end:
            nal_size = data[offset] << 8 | data[offset + 1]
            nal_end = min(offset + 2 + nal_size, end)
            if _h264_starts_key_frame(data[offset + 2] & 0x1F, data, offset + 3, nal_end):
                return True
            offset += 2 + nal_size
        return False
    if nal_type == H264_NAL_FU_A:
        if start + 2 > end:
            return False
        fu_header = data[start + 1]
        # The FU header replaces the NAL header, so the fragment starts with the slice header.
        return bool(fu_header & 0x80) and _h264_starts_key_frame(
            fu_header & 0x1F, data, start + 2, end
        )
    return _h264_starts_key_frame(nal_type, data, start + 1, end)


# --- AV1 (AV1 RTP payload format) -------------------------------------------------------------

AV1_OBU_SEQUENCE_HEADER = 1


def _read_leb128(data: bytes, offset: int, end: int) -> tuple[int, int]:
    # AV1 bitstream §4.10.5: little-endian base 128, at most 8 bytes.
    value = 0
    for index in range(8):
        if offset >= end:
            raise ValueError("AV1 LEB128 length is truncated")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, offset
    raise ValueError("AV1 LEB128 length is longer than 8 bytes")


def av1_is_key_frame(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """Return whether the AV1 payload starts a key frame.

    Two signals are read. The N bit of the aggregation header (AV1 RTP payload format §4.4)
    marks the first packet of a coded video sequence, which starts with a key frame. A
    sequence header OBU (type 1) that begins in this packet counts too, for senders that
    leave N unset. The dependency descriptor extension, which mediasoup uses for AV1, is not
    read here.
    NOTE: a sender may repeat the sequence header before frames that are not key frames. No
    browser is known to do that, but such a stream would make this return True too often.
    """
    if end is None:
        end = len(data)
    if start >= end:
        return False
    aggregation = data[start]
    if aggregation & 0x08:
        return True
    continues_fragment = bool(aggregation & 0x80)
    element_count = (aggregation >> 4) & 0x03
    offset = start + 1
    index = 0
    try:
        while offset < end:
            # With W = 0 every element has a length field. Otherwise the W-th element has
            # none and runs to the end of the payload.
            if element_count and index == element_count - 1:
                element_end = end
            else:
                length, offset = _read_leb128(data, offset, end)
                element_end = offset + length
            if not (index == 0 and continues_fragment) and offset < min(element_end, end):
                obu_type = (data[offset] >> 3) & 0x0F
                if obu_type == AV1_OBU_SEQUENCE_HEADER:
                    return True
            offset = element_end
            index += 1
    except ValueError:
        return False
    return False


# --- Dispatch ---------------------------------------------------------------------------------

_DETECTORS: dict[str, KeyFrameDetector] = {
    "video/vp8": vp8_is_key_frame,
    "video/vp9": vp9_is_key_frame,
    "video/h264": h264_is_key_frame,
    "video/av1": av1_is_key_frame,
}


def key_frame_detector(mime_type: str) -> KeyFrameDetector | None:
    """Return the key-frame detector for a codec MIME type, or None for other codecs."""
    return _DETECTORS.get(mime_type.lower())


def is_key_frame(mime_type: str, packet: RtpPacket) -> bool:
    """Return whether the packet starts a key frame of the given codec.

    False for codecs without a detector, such as audio codecs.
    """
    detector = _DETECTORS.get(mime_type.lower())
    if detector is None:
        return False
    return detector(packet.buffer, packet.payload_offset, packet.payload_end)
