#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TroveCore

/// `trove fec encode` / `decode`: files to zfec share files and back, streamed (memory stays at
/// one batch of chunks whatever the file's size). Blocks go from the read buffer to the share
/// files with gathered writes (no copies); parity is coded into buffers reused batch after
/// batch. Outputs appear under their names only when complete (a temporary, synced, renamed).
public enum ZfecFiles {
    /// Chunks read and coded at once.
    static let batch = 256

    /// Encodes `path` into m share files in `directory`; returns their paths.
    public static func encode(_ path: String, k: Int, m: Int, directory: String, prefix: String? = nil, suffix: String = ".fec",
                              overwrite: Bool = false, lanes: Int = 1) throws -> [String] {
        let codec = try FECCodec(k: k, n: m, lanes: lanes)
        let input = try RawFile(reading: path)
        defer { input.close() }
        let size = try input.size()
        let pad = (k - size % k) % k
        let prefix = prefix ?? (path as NSString).lastPathComponent
        let names = (0..<m).map { (directory as NSString).appendingPathComponent(ZfecShareFile.name(prefix: prefix, share: $0, m: m, suffix: suffix)) }
        if !overwrite, let existing = names.first(where: { FileManager.default.fileExists(atPath: $0) }) {
            throw TroveError(.libraryExists, "\(existing) already exists; remove it or pass --overwrite.")
        }
        let chunk = ZfecShareFile.chunk
        let chunkBytes = chunk * k
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunkBytes * batch, alignment: 64)
        let parityRows = Array(k..<m)
        let parity = parityRows.map { _ in UnsafeMutableRawPointer.allocate(byteCount: chunk * batch, alignment: 64) }
        defer { buffer.deallocate(); parity.forEach { $0.deallocate() } }
        let outputs = try Outputs(names)
        do {
            for share in 0..<m {
                try ZfecShareFile.header(.init(m: m, k: k, pad: pad, share: share)).withUnsafeBytes { try outputs.write(share, [$0]) }
            }
            var done = 0
            while true {
                let count = try input.read(into: buffer, count: chunkBytes * batch)
                if count == 0 { break }
                done += count
                guard done <= size else { throw TroveError(.io, "\(path) grew while it was encoded; encode it again when it is not being written.") }
                let full = count / chunkBytes, rest = count % chunkBytes
                try code(buffer, chunks: full, blockSize: chunk, k: k, codec: codec, parityRows: parityRows, parity: parity, outputs: outputs)
                if rest > 0 {
                    // The last chunk: zero-padded to a multiple of k, coded as k shorter blocks.
                    let blockSize = (rest + k - 1) / k
                    let last = buffer + full * chunkBytes
                    (last + rest).initializeMemory(as: UInt8.self, repeating: 0, count: blockSize * k - rest)
                    try code(last, chunks: 1, blockSize: blockSize, k: k, codec: codec, parityRows: parityRows, parity: parity,
                             outputs: outputs)
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

    /// Writes `chunks` chunks at `data` (each k blocks of `blockSize`) to the share files.
    static func code(_ data: UnsafeMutableRawPointer, chunks: Int, blockSize: Int, k: Int, codec: FECCodec, parityRows: [Int],
                     parity: [UnsafeMutableRawPointer], outputs: Outputs) throws {
        guard chunks > 0 else { return }
        let stride = blockSize * k
        for share in 0..<k {
            try outputs.write(share, (0..<chunks).map { UnsafeRawBufferPointer(start: data + $0 * stride + share * blockSize, count: blockSize) })
        }
        guard !parityRows.isEmpty else { return }
        FECCodec.codeChunks(parityRows.map { codec.matrix.rows[$0] }, inputs: (0..<k).map { UnsafeRawPointer(data + $0 * blockSize) },
                            inputStride: stride, chunks: chunks, blockSize: blockSize, outputs: parity, lanes: codec.lanes)
        for (index, row) in parityRows.enumerated() {
            try outputs.write(row, [UnsafeRawBufferPointer(start: parity[index], count: chunks * blockSize)])
        }
    }

    /// Decodes share files (zfec's, or Trove's) into `destination`; any k of them suffice.
    public static func decode(_ paths: [String], to destination: String, overwrite: Bool = false, lanes: Int = 1) throws {
        if !overwrite && FileManager.default.fileExists(atPath: destination) {
            throw TroveError(.libraryExists, "\(destination) already exists; remove it or pass --overwrite.")
        }
        var opened: [(header: ZfecShareFile.Header, file: RawFile, path: String, length: Int)] = []
        defer { for item in opened { item.file.close() } }
        for path in paths {
            let file = try RawFile(reading: path)
            var start = [UInt8](repeating: 0, count: 4)
            let got = try start.withUnsafeMutableBytes { try file.read(into: $0.baseAddress!, count: 4) }
            let header: ZfecShareFile.Header, length: Int
            do { (header, length) = try ZfecShareFile.parseHeader(Array(start.prefix(got))) } catch let error as FECError {
                file.close()
                throw TroveError(.corruptData, "\(path): \(error.message)")
            }
            if let first = opened.first?.header, first.m != header.m || first.k != header.k || first.pad != header.pad {
                file.close()
                throw TroveError(.corruptData, "\(path) belongs to another encoding (m \(header.m), k \(header.k), padding \(header.pad)) than \(opened[0].path) (m \(first.m), k \(first.k), padding \(first.pad)).")
            }
            if opened.contains(where: { $0.header.share == header.share }) { file.close(); continue }
            try file.seek(to: length)
            opened.append((header, file, path, try file.size() - length))
            if opened.count == header.k { break }
        }
        guard let first = opened.first?.header, let shareLength = opened.first?.length else {
            throw TroveError(.usage, "Give the share files to decode.")
        }
        guard opened.count == first.k else {
            throw TroveError(.noGoodCopy, "These share files hold \(opened.count) different shares, but \(first.k) of the \(first.m) are needed.")
        }
        guard opened.allSatisfy({ $0.length == shareLength }) else {
            throw TroveError(.corruptData, "The share files have different lengths; one of them is truncated or damaged.")
        }
        let k = first.k
        let total = shareLength * k - first.pad
        guard total >= 0 else { throw TroveError(.corruptData, "The share files are too short for their header's padding.") }
        let codec = try FECCodec(k: k, n: first.m, lanes: lanes)
        let indices = opened.map(\.header.share)
        let inverse = try codec.matrix.decoding(indices)
        let missing = (0..<k).filter { !indices.contains($0) }
        let chunk = ZfecShareFile.chunk
        let shares = opened.map { _ in UnsafeMutableRawPointer.allocate(byteCount: chunk * batch, alignment: 64) }
        let rebuilt = missing.map { _ in UnsafeMutableRawPointer.allocate(byteCount: chunk * batch, alignment: 64) }
        defer { shares.forEach { $0.deallocate() }; rebuilt.forEach { $0.deallocate() } }
        let output = try Outputs([destination])
        do {
            var remaining = shareLength, written = 0
            while remaining > 0 {
                // Whole 4096-byte blocks, then the last (shorter) block alone.
                let blockSize = remaining >= chunk ? chunk : remaining
                let chunks = blockSize == chunk ? min(batch, remaining / chunk) : 1
                for (position, item) in opened.enumerated() {
                    guard try item.file.read(into: shares[position], count: chunks * blockSize) == chunks * blockSize else {
                        throw TroveError(.corruptData, "\(item.path) ended early; it is truncated.")
                    }
                }
                FECCodec.codeChunks(missing.map { inverse[$0] }, inputs: shares.map { UnsafeRawPointer($0) }, inputStride: blockSize,
                                    chunks: chunks, blockSize: blockSize, outputs: rebuilt, lanes: lanes)
                // The blocks in order, chunk after chunk; the padding at the very end is left out.
                var pieces: [UnsafeRawBufferPointer] = []
                for chunkIndex in 0..<chunks {
                    for block in 0..<k {
                        let base = indices.firstIndex(of: block).map { shares[$0] } ?? rebuilt[missing.firstIndex(of: block)!]
                        let keep = min(blockSize, total - written)
                        if keep > 0 { pieces.append(UnsafeRawBufferPointer(start: base + chunkIndex * blockSize, count: keep)) }
                        written += max(0, keep)
                    }
                }
                try output.write(0, pieces)
                remaining -= chunks * blockSize
            }
            try output.commit()
        } catch {
            output.abort()
            throw error
        }
    }
}

/// A file read with read(2), without Foundation's copies.
final class RawFile {
    let fd: Int32
    let path: String

    init(reading path: String) throws {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        self.path = path
        guard fd >= 0 else {
            throw TroveError(errno == EACCES ? .pathUnreadable : .pathMissing, "Cannot open \(path) for reading (\(String(cString: strerror(errno)))); check the path and its permissions.")
        }
    }

    func size() throws -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw TroveError(.io, "Cannot read the size of \(path).") }
        return Int(info.st_size)
    }

    func seek(to offset: Int) throws {
        guard lseek(fd, off_t(offset), SEEK_SET) >= 0 else { throw TroveError(.io, "Cannot seek in \(path).") }
    }

    /// Fills `count` bytes unless the file ends first; returns how many were read.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        var done = 0
        while done < count {
            let n = Glibc.read(fd, buffer + done, count - done)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw TroveError(.io, "Cannot read \(path) (\(String(cString: strerror(errno)))).") }
            if n == 0 { break }
            done += n
        }
        return done
    }

    func close() { Glibc.close(fd) }
}

/// Output files written to temporaries beside their names, synced and renamed at `commit`.
final class Outputs {
    let names: [String]
    let temporaries: [String]
    var fds: [Int32] = []

    init(_ names: [String]) throws {
        self.names = names
        temporaries = names.map { name in
            ((name as NSString).deletingLastPathComponent as NSString)
                .appendingPathComponent(".\((name as NSString).lastPathComponent).trove-\(getpid()).tmp")
        }
        for temporary in temporaries {
            let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                let why = String(cString: strerror(errno))
                abort()
                throw TroveError(.storeNotWritable, "Cannot create \(temporary) (\(why)); check that the folder exists and is writable.")
            }
            fds.append(fd)
        }
    }

    /// Writes the pieces in order, gathered (writev, at most IOV_MAX at a time).
    func write(_ index: Int, _ pieces: [UnsafeRawBufferPointer]) throws {
        var vectors = pieces.filter { $0.count > 0 }.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
        var start = 0
        while start < vectors.count {
            let count = min(1024, vectors.count - start)
            let n = vectors.withUnsafeMutableBufferPointer { writev(fds[index], $0.baseAddress! + start, Int32(count)) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else {
                throw TroveError(errno == ENOSPC ? .diskFull : .io, "Cannot write \(names[index]) (\(String(cString: strerror(errno)))); check free space.")
            }
            // A short write: skip what went, resume inside the vector it stopped in.
            var left = n
            while left > 0 && start < vectors.count {
                if left >= vectors[start].iov_len {
                    left -= vectors[start].iov_len
                    start += 1
                } else {
                    vectors[start].iov_base += left
                    vectors[start].iov_len -= left
                    left = 0
                }
            }
        }
    }

    func commit() throws {
        for (index, fd) in fds.enumerated() {
            guard fsync(fd) == 0, Glibc.close(fd) == 0 else { throw TroveError(.io, "Cannot finish \(names[index]) (\(String(cString: strerror(errno)))).") }
            guard rename(temporaries[index], names[index]) == 0 else {
                throw TroveError(.io, "Cannot put \(names[index]) in place (\(String(cString: strerror(errno)))).")
            }
        }
        fds = []
        // The renames themselves are durable once the folders are synced.
        for folder in Set(names.map { ($0 as NSString).deletingLastPathComponent }) {
            let fd = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if fd >= 0 { _ = fsync(fd); Glibc.close(fd) }
        }
    }

    func abort() {
        for fd in fds { Glibc.close(fd) }
        fds = []
        for temporary in temporaries { unlink(temporary) }
    }
}
