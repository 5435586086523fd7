// In-memory erasure-coding throughput, next to zfec's Python API on the same sizes:
//   swift run -c release fec-bench [MiB]
// Encodes k blocks into the n − k parity shares, then decodes the data from parity shares
// only (every byte computed), on one thread and on every core; medians of 5 runs. Trove codes
// into buffers allocated once (its streaming path does); zfec's API returns new bytes objects.
import Foundation
import TroveFEC

let mib = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 256
let size = mib << 20
let cores = ProcessInfo.processInfo.activeProcessorCount

func median(_ body: () throws -> Void) rethrows -> Double {
    var times: [Double] = []
    for _ in 0..<5 {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return times.sorted()[2]
}

func zfec(k: Int, n: Int) -> (encode: Double, decode: Double)? {
    let script = """
    import os, time, zfec
    k, n, size = \(k), \(n), \(size)
    block = size // k
    blocks = [os.urandom(block) for _ in range(k)]
    enc = zfec.Encoder(k, n)
    def best(f):
        ts = []
        for _ in range(5):
            t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
        return sorted(ts)[2]
    shares = enc.encode(blocks)
    e = best(lambda: enc.encode(blocks))
    dec = zfec.Decoder(k, n)
    nums = list(range(k, 2 * k)) if 2 * k <= n else list(range(n - k, n))
    got = [shares[i] for i in nums]
    d = best(lambda: dec.decode(got, nums))
    print(e, d)
    """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let parts = String(decoding: data, as: UTF8.self).split(separator: " ")
        .compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    return parts.count == 2 && process.terminationStatus == 0 ? (parts[0], parts[1]) : nil
}

func buffer(_ bytes: Int, random: Bool) -> UnsafeMutableRawBufferPointer {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
    if random {
        var generator = SystemRandomNumberGenerator()
        let words = buffer.bindMemory(to: UInt64.self)
        for i in words.indices { words[i] = generator.next() }
    } else {
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
    }
    return buffer
}

print("kernel: \(FECCodec.kernel); \(mib) MiB of data; \(cores) cores; MB/s of data coded (medians of 5)")
print("| code | zfec Python API encode | Trove encode, 1 core | Trove encode, \(cores) cores | zfec decode | Trove decode, 1 core | Trove decode, \(cores) cores |")
print("|---|---:|---:|---:|---:|---:|---:|")
for (k, n) in [(3, 10), (4, 6)] {
    let block = size / k
    let blocks = (0..<k).map { _ in buffer(block, random: true) }
    let parityNumbers = Array(k..<n)
    let parity = parityNumbers.map { _ in buffer(block, random: false) }
    let reference = zfec(k: k, n: n)
    func cell(_ time: Double, _ ref: Double?) -> String {
        String(format: "%.0f", Double(size) / time / 1e6) + (ref.map { String(format: " (%.1f×)", $0 / time) } ?? "")
    }
    var encodeCells: [String] = [], decodeCells: [String] = []
    for lanes in [1, cores] {
        let codec = try FECCodec(k: k, n: n, lanes: lanes)
        let t = try median {
            try codec.encode(blocks.map { UnsafeRawBufferPointer($0) }, into: parity, shares: parityNumbers, length: block)
        }
        encodeCells.append(cell(t, reference?.encode))
    }
    // Decode every data block from parity shares only.
    let numbers = 2 * k <= n ? Array(k..<(2 * k)) : Array((n - k)..<n)
    let given = numbers.map { ($0, UnsafeRawBufferPointer($0 < k ? blocks[$0] : parity[$0 - k])) }
    let wanted = (0..<k).filter { !numbers.contains($0) }
    let rebuilt = wanted.map { _ in buffer(block, random: false) }
    for lanes in [1, cores] {
        let codec = try FECCodec(k: k, n: n, lanes: lanes)
        let t = try median { try codec.decode(given, blocks: wanted, into: rebuilt, length: block) }
        decodeCells.append(cell(t, reference?.decode))
    }
    for (position, number) in wanted.enumerated() {
        precondition(memcmp(rebuilt[position].baseAddress!, blocks[number].baseAddress!, block) == 0, "decoding must give the data back")
    }
    let ref = reference.map { (String(format: "%.0f", Double(size) / $0.encode / 1e6), String(format: "%.0f", Double(size) / $0.decode / 1e6)) }
    print("| \(k)-of-\(n) | \(ref?.0 ?? "—") | \(encodeCells[0]) | \(encodeCells[1]) | \(ref?.1 ?? "—") | \(decodeCells[0]) | \(decodeCells[1]) |")
}
