"""Wire formats of PROTOCOL.md §1 as pure code: decode/encode every packet kind, the XOR+RLE
codec and the receiver side of compressed CSI. No sockets, no files."""

from .codec import CodecError, rle_expand, rle_xor_decode, rle_xor_encode
from .decode import decode
from .packets import (KINDS, AnomalyAlert, CompressedFrame, FeatureState, FeatureVector,
                      FusedVitals, Malformed, MeshEnvelope, MeshHealth, Packet, RawFrame, Unknown,
                      Vitals, WasmEvents, channel_from_freq, freq_from_channel)
from .stream import CompressedStream, Reconstructed

__all__ = [
    "decode", "KINDS", "Packet", "RawFrame", "Vitals", "FeatureVector", "FusedVitals",
    "WasmEvents", "CompressedFrame", "FeatureState", "MeshEnvelope", "MeshHealth",
    "AnomalyAlert", "Malformed", "Unknown", "CodecError", "rle_xor_encode", "rle_expand",
    "rle_xor_decode", "CompressedStream", "Reconstructed", "channel_from_freq",
    "freq_from_channel",
]
