import Foundation
import TroveCore

/// `trove fec encode` / `decode`: files to zfec share files and back, streamed (memory stays at
/// one batch of chunks whatever the file's size). Outputs appear under their names only when
/// complete (written to a temporary, synced, renamed).
public enum ZfecFiles {
    /// Chunks read and coded at once.
    static let batch = 256

    /// Encodes `path` into m share files in `directory`; returns their paths.
    public static func encode(_ path: String, k: Int, m: Int, directory: String, prefix: String? = nil, suffix: String = ".fec",
                              overwrite: Bool = false, lanes: Int = 1) throws -> [String] {
        let codec = try FECCodec(k: k, n: m, lanes: lanes)
        guard let input = FileHandle(forReadingAtPath: path) else {
            throw TroveError(.pathMissing, "Cannot open \(path) for reading; check the path and its permissions.")
        }
        defer { try? input.close() }
        let size = Int((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)??.intValue ?? 0)
        let pad = (k - size % k) % k
        let prefix = prefix ?? (path as NSString).lastPathComponent
        let names = (0..<m).map { (directory as NSString).appendingPathComponent(ZfecShareFile.name(prefix: prefix, share: $0, m: m, suffix: suffix)) }
        if !overwrite, let existing = names.first(where: { FileManager.default.fileExists(atPath: $0) }) {
            throw TroveError(.libraryExists, "\(existing) already exists; remove it or pass --overwrite.")
        }
        let outputs = try Outputs(names)
        do {
            for share in 0..<m { try outputs.write(share, ZfecShareFile.header(.init(m: m, k: k, pad: pad, share: share))) }
            let chunkBytes = ZfecShareFile.chunk * k
            let parityRows = Array(k..<m)
            var done = 0
            while true {
                var data = try input.read(upToCount: chunkBytes * batch).map { [UInt8]($0) } ?? []
                if data.isEmpty { break }
                done += data.count
                guard done <= size else {
                    throw TroveError(.io, "\(path) grew while it was encoded; encode it again when it is not being written.")
                }
                let full = data.count / chunkBytes
                let rest = data.count % chunkBytes
                // Full chunks: blocks of 4096 bytes; the data shares are slices of the input.
                try write(&data, chunks: full, blockSize: ZfecShareFile.chunk, chunkStride: chunkBytes, codec: codec,
                          parityRows: parityRows, outputs: outputs)
                if rest > 0 {
                    // The last chunk: zero-padded to a multiple of k, coded as k shorter blocks.
                    let blockSize = (rest + k - 1) / k
                    var last = Array(data[(full * chunkBytes)...]) + [UInt8](repeating: 0, count: blockSize * k - rest)
                    try write(&last, chunks: 1, blockSize: blockSize, chunkStride: blockSize * k, codec: codec,
                              parityRows: parityRows, outputs: outputs)
                }
            }
            guard done == size else { throw TroveError(.io, "\(path) changed size while it was encoded; encode it again.") }
            try outputs.commit()
        } catch {
            outputs.abort()
            throw error
        }
        return names
    }

    static func write(_ data: inout [UInt8], chunks: Int, blockSize: Int, chunkStride: Int, codec: FECCodec, parityRows: [Int],
                      outputs: Outputs) throws {
        guard chunks > 0 else { return }
        let k = codec.k
        for share in 0..<k {
            var bytes = [UInt8]()
            bytes.reserveCapacity(chunks * blockSize)
            for chunk in 0..<chunks {
                let start = chunk * chunkStride + share * blockSize
                bytes += data[start..<start + blockSize]
            }
            try outputs.write(share, bytes)
        }
        guard !parityRows.isEmpty else { return }
        let parity = data.withUnsafeBytes { input in
            withOutputBuffers(count: parityRows.count, length: chunks * blockSize) { buffers in
                FECCodec.codeChunks(parityRows.map { codec.matrix.rows[$0] }, input: input, inputStride: chunkStride,
                                    blockOffsets: (0..<k).map { $0 * blockSize }, chunks: chunks, blockSize: blockSize,
                                    outputs: buffers, lanes: codec.lanes)
            }
        }
        for (index, row) in parityRows.enumerated() { try outputs.write(row, parity[index]) }
    }

    /// Decodes share files (zfec's, or Trove's) into `destination`; any k of them suffice.
    public static func decode(_ paths: [String], to destination: String, overwrite: Bool = false, lanes: Int = 1) throws {
        if !overwrite && FileManager.default.fileExists(atPath: destination) {
            throw TroveError(.libraryExists, "\(destination) already exists; remove it or pass --overwrite.")
        }
        var opened: [(header: ZfecShareFile.Header, handle: FileHandle, path: String, length: Int)] = []
        defer { for item in opened { try? item.handle.close() } }
        for path in paths {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw TroveError(.pathMissing, "Cannot open the share file \(path); check the path and its permissions.")
            }
            let start = try [UInt8](handle.read(upToCount: 4) ?? Data())
            let header: ZfecShareFile.Header, length: Int
            do { (header, length) = try ZfecShareFile.parseHeader(start) } catch let error as FECError {
                try? handle.close()
                throw TroveError(.corruptData, "\(path): \(error.message)")
            }
            if let first = opened.first?.header, first.m != header.m || first.k != header.k || first.pad != header.pad {
                try? handle.close()
                throw TroveError(.corruptData, "\(path) belongs to another encoding (m \(header.m), k \(header.k), padding \(header.pad)) than \(opened[0].path) (m \(first.m), k \(first.k), padding \(first.pad)).")
            }
            if opened.contains(where: { $0.header.share == header.share }) { try? handle.close(); continue }
            try handle.seek(toOffset: UInt64(length))
            let size = Int((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)??.intValue ?? 0)
            opened.append((header, handle, path, size - length))
            if opened.count == header.k { break }
        }
        guard let first = opened.first?.header, let firstLength = opened.first?.length else {
            throw TroveError(.usage, "Give the share files to decode.")
        }
        guard opened.count == first.k else {
            throw TroveError(.noGoodCopy, "These share files hold \(opened.count) different shares, but \(first.k) of the \(first.m) are needed.")
        }
        guard opened.allSatisfy({ $0.length == firstLength }) else {
            throw TroveError(.corruptData, "The share files have different lengths; one of them is truncated or damaged.")
        }
        let k = first.k
        let codec = try FECCodec(k: k, n: first.m, lanes: lanes)
        let indices = opened.map(\.header.share)
        let inverse = try codec.matrix.decoding(indices)
        let missing = (0..<k).filter { !indices.contains($0) }
        let shareLength = firstLength
        let total = shareLength * k - first.pad
        guard total >= 0, shareLength > 0 || first.pad == 0 else { throw TroveError(.corruptData, "The share files are too short for their header's padding.") }
        let output = try Outputs([destination])
        do {
            var remaining = shareLength
            var written = 0
            while remaining > 0 {
                // Whole 4096-byte blocks, then the last (shorter) block alone.
                let blockSize = remaining >= ZfecShareFile.chunk ? ZfecShareFile.chunk : remaining
                let chunks = blockSize == ZfecShareFile.chunk ? min(batch, remaining / ZfecShareFile.chunk) : 1
                var shares = try opened.map { item -> [UInt8] in
                    let bytes = [UInt8](try item.handle.read(upToCount: chunks * blockSize) ?? Data())
                    guard bytes.count == chunks * blockSize else {
                        throw TroveError(.corruptData, "\(item.path) ended early; it is truncated.")
                    }
                    return bytes
                }
                // Interleave: chunk t is the k shares' t-th blocks, in share order.
                var interleaved = [UInt8](repeating: 0, count: chunks * blockSize * k)
                for (position, bytes) in shares.enumerated() {
                    for chunk in 0..<chunks {
                        let to = chunk * blockSize * k + position * blockSize
                        interleaved.replaceSubrange(to..<to + blockSize, with: bytes[(chunk * blockSize)..<(chunk + 1) * blockSize])
                    }
                }
                shares = []
                var rebuilt: [[UInt8]] = []
                if !missing.isEmpty {
                    rebuilt = interleaved.withUnsafeBytes { input in
                        withOutputBuffers(count: missing.count, length: chunks * blockSize) { buffers in
                            FECCodec.codeChunks(missing.map { inverse[$0] }, input: input, inputStride: blockSize * k,
                                                blockOffsets: (0..<k).map { $0 * blockSize }, chunks: chunks, blockSize: blockSize,
                                                outputs: buffers, lanes: lanes)
                        }
                    }
                }
                var plain = [UInt8]()
                plain.reserveCapacity(chunks * blockSize * k)
                for chunk in 0..<chunks {
                    for block in 0..<k {
                        if let position = indices.firstIndex(of: block) {
                            let from = chunk * blockSize * k + position * blockSize
                            plain += interleaved[from..<from + blockSize]
                        } else {
                            let from = chunk * blockSize
                            plain += rebuilt[missing.firstIndex(of: block)!][from..<from + blockSize]
                        }
                    }
                }
                let keep = min(plain.count, total - written)
                try output.write(0, Array(plain.prefix(keep)))
                written += keep
                remaining -= chunks * blockSize
            }
            try output.commit()
        } catch {
            output.abort()
            throw error
        }
    }
}

/// Output files written to temporaries beside their names, synced and renamed at `commit`.
final class Outputs {
    let names: [String]
    let temporaries: [String]
    let handles: [FileHandle]

    init(_ names: [String]) throws {
        self.names = names
        temporaries = names.map { name in
            ((name as NSString).deletingLastPathComponent as NSString)
                .appendingPathComponent(".\((name as NSString).lastPathComponent).trove-\(getpid()).tmp")
        }
        var handles: [FileHandle] = []
        for temporary in temporaries {
            guard FileManager.default.createFile(atPath: temporary, contents: nil), let handle = FileHandle(forWritingAtPath: temporary) else {
                for (index, handle) in handles.enumerated() { try? handle.close(); try? FileManager.default.removeItem(atPath: temporaries[index]) }
                throw TroveError(.storeNotWritable, "Cannot create \(temporary); check that the folder exists and is writable.")
            }
            handles.append(handle)
        }
        self.handles = handles
    }

    func write(_ index: Int, _ bytes: [UInt8]) throws {
        do { try handles[index].write(contentsOf: Data(bytes)) } catch {
            throw TroveError(.io, "Cannot write \(names[index]) (\(error.localizedDescription)); check free space.")
        }
    }

    func commit() throws {
        for (index, handle) in handles.enumerated() {
            do {
                try handle.synchronize()
                try handle.close()
                if FileManager.default.fileExists(atPath: names[index]) { try FileManager.default.removeItem(atPath: names[index]) }
                try FileManager.default.moveItem(atPath: temporaries[index], toPath: names[index])
            } catch {
                throw TroveError(.io, "Cannot finish \(names[index]) (\(error.localizedDescription)).")
            }
        }
    }

    func abort() {
        for (index, handle) in handles.enumerated() {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temporaries[index])
        }
    }
}
