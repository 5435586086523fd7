import Foundation
import TroveCore

/// The share files of zfec's command-line tools (`zfec`, `zunfec`), byte for byte: a header of
/// 2–4 bytes packing m − 1 (8 bits), k − 1 (⌈log2 m⌉ bits), the padding (⌈log2 k⌉ bits) and the
/// share number (⌈log2 m⌉ bits), big-endian and left-aligned; then the share's blocks. The input
/// is cut into chunks of k × 4096 bytes, each coded as k blocks of 4096 bytes; the last chunk is
/// zero-padded to a multiple of k and coded as k shorter blocks. Files are named
/// `PREFIX.NN_MM.fec` (share number and m zero-padded to the digits of m).
public enum ZfecShareFile {
    public static let chunk = 4096

    /// Bits needed to store any of `count` values.
    static func bits(_ count: Int) -> Int {
        var power = 1, bits = 0
        while power < count { power *= 2; bits += 1 }
        return bits
    }

    public struct Header: Sendable, Equatable {
        public var m: Int
        public var k: Int
        public var pad: Int
        public var share: Int
        public init(m: Int, k: Int, pad: Int, share: Int) {
            self.m = m
            self.k = k
            self.pad = pad
            self.share = share
        }
    }

    public static func header(_ h: Header) -> [UInt8] {
        precondition((1...256).contains(h.m) && (1...h.m).contains(h.k) && (0..<h.k).contains(h.pad) && (0..<h.m).contains(h.share))
        var value = UInt64(h.m - 1)
        var used = 8
        let kBits = bits(h.m), padBits = bits(h.k), shareBits = bits(h.m)
        value = value << UInt64(kBits) | UInt64(h.k - 1)
        value = value << UInt64(padBits) | UInt64(h.pad)
        value = value << UInt64(shareBits) | UInt64(h.share)
        used += kBits + padBits + shareBits
        let bytes = used <= 16 ? 2 : used <= 24 ? 3 : 4
        value <<= UInt64(bytes * 8 - used)
        return (0..<bytes).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * (bytes - 1 - $0))) }
    }

    /// Parses a header from the start of `bytes`; returns it and its length.
    public static func parseHeader(_ bytes: [UInt8]) throws -> (Header, Int) {
        guard let first = bytes.first else { throw FECError("The share file is empty: it has no zfec header.") }
        let m = Int(first) + 1
        let kBits = bits(m), shareBits = bits(m)
        // k is in the second byte; how many bytes follow depends on k.
        guard bytes.count >= 2 else { throw FECError("The share file ends inside its zfec header (truncated?).") }
        let k = Int(bytes[1] >> UInt8(8 - kBits)) + 1
        guard k <= m else { throw FECError("The share file's header says k = \(k) > m = \(m): it is not a zfec share file.") }
        let padBits = bits(k)
        let used = 8 + kBits + padBits + shareBits
        let length = used <= 16 ? 2 : used <= 24 ? 3 : 4
        guard bytes.count >= length else { throw FECError("The share file ends inside its zfec header (truncated?).") }
        var value: UInt64 = 0
        for byte in bytes.prefix(length) { value = value << 8 | UInt64(byte) }
        value >>= UInt64(length * 8 - used)
        let share = Int(value & ((1 << UInt64(shareBits)) - 1))
        let pad = Int((value >> UInt64(shareBits)) & ((1 << UInt64(padBits)) - 1))
        guard share < m, pad < k else { throw FECError("The share file's header is inconsistent (share \(share) of \(m), padding \(pad) for k = \(k)).") }
        return (Header(m: m, k: k, pad: pad, share: share), length)
    }

    /// zfec's name for share `share` of `m`: `PREFIX.NN_MM.fec`.
    public static func name(prefix: String, share: Int, m: Int, suffix: String = ".fec") -> String {
        let digits = String(m).count
        func padded(_ value: Int) -> String { String(repeating: "0", count: max(0, digits - String(value).count)) + String(value) }
        return "\(prefix).\(padded(share))_\(padded(m))\(suffix)"
    }
}
