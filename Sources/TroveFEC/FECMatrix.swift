import CTroveGF

/// GF(2^8) with the polynomial 0x11D (zfec's field), for the small matrix work; the hot loop
/// is `trove_gf_mul_add` in CTroveGF.
enum GF256 {
    static let (exp, log): ([UInt8], [Int]) = {
        var exp = [UInt8](repeating: 0, count: 510)
        var log = [Int](repeating: 0, count: 256)
        var x = 1
        for i in 0..<255 {
            exp[i] = UInt8(x)
            log[x] = i
            x <<= 1
            if x & 0x100 != 0 { x ^= 0x11D }
        }
        for i in 255..<510 { exp[i] = exp[i - 255] }
        return (exp, log)
    }()

    static func mul(_ a: UInt8, _ b: UInt8) -> UInt8 {
        a == 0 || b == 0 ? 0 : exp[log[Int(a)] + log[Int(b)]]
    }

    static func inverse(_ a: UInt8) -> UInt8 { exp[255 - log[Int(a)]] }

    /// α^power.
    static func power(_ power: Int) -> UInt8 { exp[power % 255] }

    /// The inverse of a square matrix (Gauss-Jordan); nil when it is singular.
    static func invert(_ matrix: [[UInt8]]) -> [[UInt8]]? {
        let size = matrix.count
        var a = matrix
        var inv = (0..<size).map { row in (0..<size).map { $0 == row ? UInt8(1) : 0 } }
        for column in 0..<size {
            guard let pivot = (column..<size).first(where: { a[$0][column] != 0 }) else { return nil }
            a.swapAt(column, pivot)
            inv.swapAt(column, pivot)
            let scale = inverse(a[column][column])
            for j in 0..<size {
                a[column][j] = mul(a[column][j], scale)
                inv[column][j] = mul(inv[column][j], scale)
            }
            for row in 0..<size where row != column && a[row][column] != 0 {
                let factor = a[row][column]
                for j in 0..<size {
                    a[row][j] ^= mul(factor, a[column][j])
                    inv[row][j] ^= mul(factor, inv[column][j])
                }
            }
        }
        return inv
    }

    static func multiply(_ a: [[UInt8]], _ b: [[UInt8]]) -> [[UInt8]] {
        a.map { row in
            (0..<b[0].count).map { column in
                var sum: UInt8 = 0
                for (index, value) in row.enumerated() { sum ^= mul(value, b[index][column]) }
                return sum
            }
        }
    }
}

/// The systematic k-of-n encoding matrix built exactly as zfec builds it: the Vandermonde
/// matrix evaluated at 0, α^0, α^1, … (row r, column c holds x_r^c), times the inverse of its
/// top k×k block. The top k rows are then the identity: shares 0…k−1 are the data blocks.
public struct FECMatrix: Sendable, Equatable {
    public let k: Int
    public let n: Int
    /// n rows of k coefficients.
    public let rows: [[UInt8]]

    public init(k: Int, n: Int) throws {
        guard (1...256).contains(n), (1...n).contains(k) else {
            throw FECError("k and m must satisfy 1 ≤ k ≤ m ≤ 256 (got k = \(k), m = \(n)).")
        }
        self.k = k
        self.n = n
        let vandermonde: [[UInt8]] = (0..<n).map { r in
            r == 0 ? (0..<k).map { $0 == 0 ? 1 : 0 } : (0..<k).map { c in GF256.power((r - 1) * c) }
        }
        guard let top = GF256.invert(Array(vandermonde.prefix(k))) else {
            throw FECError("The Vandermonde block for k = \(k) is singular (cannot happen for k ≤ 256).")
        }
        rows = GF256.multiply(vandermonde, top)
    }

    /// The matrix that turns the shares numbered `indices` (k distinct numbers below n) back
    /// into the k data blocks.
    public func decoding(_ indices: [Int]) throws -> [[UInt8]] {
        guard indices.count == k, Set(indices).count == k, indices.allSatisfy({ (0..<n).contains($0) }) else {
            throw FECError("Decoding needs \(k) different share numbers below \(n), not \(indices).")
        }
        guard let inverse = GF256.invert(indices.map { rows[$0] }) else {
            throw FECError("The shares \(indices) do not determine the data (cannot happen for a Vandermonde code).")
        }
        return inverse
    }
}

/// A failure of erasure coding: bad parameters, too few shares, inconsistent share files.
public struct FECError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
