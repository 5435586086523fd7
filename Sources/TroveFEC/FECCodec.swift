import CTroveGF
import TroveCore

/// Reed-Solomon k-of-n coding over GF(2^8), byte-compatible with zfec: k equal-length data
/// blocks give n shares (the first k are the blocks themselves), and any k shares give the
/// blocks back. The multiply-accumulate runs in SIMD kernels (AVX2 or SSSE3, chosen at run
/// time), over strides small enough to stay in the CPU cache, on `lanes` threads.
public struct FECCodec: Sendable {
    public let matrix: FECMatrix
    /// Threads a large block is split over (each takes a range of bytes of every share).
    public var lanes: Int
    /// Bytes of each block handled at once: the output stride and k input strides stay in L1/L2.
    static let stride = 16 * 1024

    public init(k: Int, n: Int, lanes: Int = 1) throws {
        matrix = try FECMatrix(k: k, n: n)
        self.lanes = max(1, lanes)
    }

    public var k: Int { matrix.k }
    public var n: Int { matrix.n }

    /// The kernel the multiply-accumulate uses on this CPU ("avx2", "ssse3" or "portable").
    public static var kernel: String {
        switch trove_gf_best_kernel() {
        case TROVE_GF_AVX2: "avx2"
        case TROVE_GF_SSSE3: "ssse3"
        default: "portable"
        }
    }

    /// Computes `outputs[i] = Σ_c coefficients[i][c] · inputs[c]` over `length` bytes.
    static func combine(_ coefficients: [[UInt8]], inputs: [UnsafeRawBufferPointer], outputs: [UnsafeMutableRawBufferPointer],
                        length: Int, lanes: Int) {
        let parts = lanes > 1 && length >= 4 * stride ? lanes : 1
        let per = (length + parts - 1) / parts
        let inputAddresses = inputs.map { UInt(bitPattern: $0.baseAddress) }
        let outputAddresses = outputs.map { UInt(bitPattern: $0.baseAddress) }
        runConcurrently(parts, lanes: parts) { part in
            let start = part * per, end = min(length, start + per)
            var offset = start
            while offset < end {
                let count = min(stride, end - offset)
                for (row, output) in outputAddresses.enumerated() {
                    let dst = UnsafeMutablePointer<UInt8>(bitPattern: output)! + offset
                    dst.update(repeating: 0, count: count)
                    for (column, input) in inputAddresses.enumerated() {
                        let c = coefficients[row][column]
                        guard c != 0 else { continue }
                        trove_gf_mul_add(dst, UnsafePointer<UInt8>(bitPattern: input)! + offset, c, count)
                    }
                }
                offset += count
            }
        }
    }

    /// Writes the shares numbered `indices` (each at least k: the parity shares) of k blocks of
    /// `length` bytes into `outputs`, without allocating: the form for streams and benchmarks.
    public func encode(_ blocks: [UnsafeRawBufferPointer], into outputs: [UnsafeMutableRawBufferPointer], shares indices: [Int],
                       length: Int) throws {
        guard blocks.count == k, blocks.allSatisfy({ $0.count >= length }), outputs.count == indices.count,
              outputs.allSatisfy({ $0.count >= length }), indices.allSatisfy({ (k..<n).contains($0) }) else {
            throw FECError("Encoding into buffers needs \(k) blocks and one buffer of \(length) bytes per parity share (numbers \(k)…\(n - 1)).")
        }
        Self.combine(indices.map { matrix.rows[$0] }, inputs: blocks, outputs: outputs, length: length, lanes: lanes)
    }

    /// Writes the missing data blocks `blocks` (numbers below k) from k shares into `outputs`,
    /// without allocating.
    public func decode(_ shares: [(index: Int, bytes: UnsafeRawBufferPointer)], blocks wanted: [Int],
                       into outputs: [UnsafeMutableRawBufferPointer], length: Int) throws {
        guard shares.count == k, outputs.count == wanted.count, wanted.allSatisfy({ (0..<k).contains($0) }),
              shares.allSatisfy({ $0.bytes.count >= length }), outputs.allSatisfy({ $0.count >= length }) else {
            throw FECError("Decoding into buffers needs \(k) shares and one buffer of \(length) bytes per wanted block.")
        }
        let inverse = try matrix.decoding(shares.map(\.index))
        Self.combine(wanted.map { inverse[$0] }, inputs: shares.map(\.bytes), outputs: outputs, length: length, lanes: lanes)
    }

    /// The shares numbered `indices` of k blocks of equal length.
    public func encode(_ blocks: [[UInt8]], shares indices: [Int]) throws -> [[UInt8]] {
        guard blocks.count == k, let length = blocks.first?.count, blocks.allSatisfy({ $0.count == length }) else {
            throw FECError("Encoding needs \(k) blocks of one length.")
        }
        guard indices.allSatisfy({ (0..<n).contains($0) }) else { throw FECError("Share numbers must be below \(n).") }
        var outputs = indices.map { $0 < k ? blocks[$0] : [UInt8](repeating: 0, count: length) }
        let parity = indices.enumerated().filter { $0.element >= k }
        guard !parity.isEmpty, length > 0 else { return outputs }
        let coded = try withBuffers(blocks) { inputs in
            withOutputBuffers(count: parity.count, length: length) { buffers in
                Self.combine(parity.map { matrix.rows[$0.element] }, inputs: inputs, outputs: buffers, length: length, lanes: lanes)
            }
        }
        for (position, item) in parity.enumerated() { outputs[item.offset] = coded[position] }
        return outputs
    }

    /// The k blocks back from any k shares (number and bytes; all of one length).
    public func decode(_ shares: [(index: Int, bytes: [UInt8])]) throws -> [[UInt8]] {
        guard shares.count >= k else { throw FECError("Decoding needs \(k) shares; only \(shares.count) were given.") }
        let chosen = Array(shares.prefix(k))
        guard let length = chosen.first?.bytes.count, chosen.allSatisfy({ $0.bytes.count == length }) else {
            throw FECError("Every share must have the same length.")
        }
        let inverse = try matrix.decoding(chosen.map(\.index))
        var blocks = [[UInt8]](repeating: [], count: k)
        var missing: [Int] = []
        for block in 0..<k {
            // A data block that arrived as itself needs no arithmetic.
            if let present = chosen.first(where: { $0.index == block }) { blocks[block] = present.bytes } else {
                blocks[block] = [UInt8](repeating: 0, count: length)
                missing.append(block)
            }
        }
        guard !missing.isEmpty, length > 0 else { return blocks }
        let rebuilt = try withBuffers(chosen.map(\.bytes)) { inputs in
            withOutputBuffers(count: missing.count, length: length) { buffers in
                Self.combine(missing.map { inverse[$0] }, inputs: inputs, outputs: buffers, length: length, lanes: lanes)
            }
        }
        for (position, block) in missing.enumerated() { blocks[block] = rebuilt[position] }
        return blocks
    }
}

/// Runs `body` with the arrays' bytes pinned.
func withBuffers<R>(_ arrays: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) throws -> R) throws -> R {
    var pinned: [UnsafeRawBufferPointer] = []
    func pin(_ index: Int) throws -> R {
        if index == arrays.count { return try body(pinned) }
        return try arrays[index].withUnsafeBytes { buffer in
            pinned.append(buffer)
            defer { pinned.removeLast() }
            return try pin(index + 1)
        }
    }
    return try pin(0)
}

/// Runs `body` with `count` zeroed buffers of `length` bytes (64-byte aligned) and returns
/// their contents.
func withOutputBuffers(count: Int, length: Int, _ body: ([UnsafeMutableRawBufferPointer]) throws -> Void) rethrows -> [[UInt8]] {
    let buffers = (0..<count).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: max(length, 1), alignment: 64) }
    defer { buffers.forEach { $0.deallocate() } }
    for buffer in buffers { buffer.initializeMemory(as: UInt8.self, repeating: 0) }
    try body(buffers.map { UnsafeMutableRawBufferPointer(rebasing: $0[0..<length]) })
    return buffers.map { Array($0.prefix(length)) }
}

extension FECCodec {
    /// Codes `chunks` chunks: input `j` of chunk `t` is `blockSize` bytes at `inputs[j] + t ·
    /// inputStride`; `outputs[i]` receives, chunk after chunk, row `coefficients[i]` applied to
    /// them. Chunks are spread over `lanes` threads.
    static func codeChunks(_ coefficients: [[UInt8]], inputs: [UnsafeRawPointer], inputStride: Int, chunks: Int, blockSize: Int,
                           outputs: [UnsafeMutableRawPointer], lanes: Int) {
        guard chunks > 0, blockSize > 0, !outputs.isEmpty else { return }
        let inputAddresses = inputs.map { UInt(bitPattern: $0) }
        let outputAddresses = outputs.map { UInt(bitPattern: $0) }
        let group = max(1, chunks / (lanes * 4))
        runConcurrently((chunks + group - 1) / group, lanes: lanes) { part in
            for chunk in (part * group)..<min(chunks, (part + 1) * group) {
                for (row, output) in outputAddresses.enumerated() {
                    let dst = UnsafeMutablePointer<UInt8>(bitPattern: output)! + chunk * blockSize
                    dst.update(repeating: 0, count: blockSize)
                    for (column, input) in inputAddresses.enumerated() {
                        let c = coefficients[row][column]
                        if c != 0 { trove_gf_mul_add(dst, UnsafePointer<UInt8>(bitPattern: input)! + chunk * inputStride, c, blockSize) }
                    }
                }
            }
        }
    }
}
