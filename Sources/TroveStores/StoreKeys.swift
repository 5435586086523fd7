#if canImport(Glibc)
import Glibc
#endif
import Crypto
import CryptoExtras
import Foundation
import TroveCore
import TroveStorage

/// The keys of an encrypted store: a random master key, sealed (AES-256-GCM) under a key
/// derived from a passphrase with scrypt and under the key in a key file (mode 0600), so either
/// unlocks it. The data and name keys are derived from the master key with HKDF.
public struct StoreKeys: Sendable {
    /// Seals the chunks of every object.
    let dataKey: SymmetricKey
    /// Keys the hash that names objects on the store.
    let nameKey: SymmetricKey

    init(master: SymmetricKey) {
        dataKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: master, info: Data("trove store data key v1".utf8), outputByteCount: 32)
        nameKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: master, info: Data("trove store name key v1".utf8), outputByteCount: 32)
    }

    /// scrypt costs: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s): what the scrypt paper
    /// recommends for interactive logins, paid once per unlock.
    public static let scryptN = 1 << 15, scryptR = 8, scryptP = 1

    /// New encryption parameters for a store, with a fresh master key sealed under the passphrase
    /// and/or the key file's key (at least one).
    public static func create(passphrase: String?, keyFileKey: SymmetricKey?, chunkSize: Int) throws -> (StoreEncryption, StoreKeys) {
        let master = SymmetricKey(size: .bits256)
        var encryption = StoreEncryption(chunkSize: chunkSize, wraps: [])
        if let passphrase { encryption.wraps.append(try wrap(master, passphrase: passphrase, parameters: encryption)) }
        if let keyFileKey { encryption.wraps.append(try wrap(master, keyFileKey: keyFileKey, parameters: encryption)) }
        guard !encryption.wraps.isEmpty else { throw StoreError(.permissionDenied, "An encrypted store needs a passphrase or a key file.") }
        return (encryption, StoreKeys(master: master))
    }

    /// What the sealed master key is bound to: the format, cipher and chunk size, so that none can
    /// be changed in the store's identity without the key failing to unlock.
    static func boundParameters(_ encryption: StoreEncryption) -> Data {
        Data("trove master key v1|format=\(encryption.format)|cipher=\(encryption.cipher)|chunk=\(encryption.chunkSize)".utf8)
    }

    /// Refuses parameters this build does not write (a tampered identity could ask for a chunk
    /// size of zero, or scrypt costs that exhaust memory).
    static func validate(_ encryption: StoreEncryption) throws {
        guard encryption.format == 1, encryption.cipher == "AES-256-GCM", encryption.chunkSize == ContentHash.leafSize else {
            throw StoreError(.permissionDenied, "This store's encryption (format \(encryption.format), \(encryption.cipher), chunks of \(encryption.chunkSize) bytes) is not one this Trove writes; upgrade Trove, or check that its identity file was not altered.")
        }
    }

    /// Unlocks a store's master key with a key file's key or a passphrase; returns the keys and
    /// the master key (to add another wrap).
    public static func unlock(_ encryption: StoreEncryption, keyFileKey: SymmetricKey?, passphrase: String?) throws -> (StoreKeys, SymmetricKey) {
        try validate(encryption)
        let bound = boundParameters(encryption)
        if let keyFileKey {
            let id = fingerprint(keyFileKey)
            for wrap in encryption.wraps where wrap.kind == .keyFile && wrap.keyID == id {
                if let master = try? open(wrap.sealed, with: keyFileKey, bound: bound) { return (StoreKeys(master: master), master) }
            }
        }
        if let passphrase {
            for wrap in encryption.wraps where wrap.kind == .scrypt {
                guard let salt = wrap.salt.flatMap({ Data(base64Encoded: $0) }), let n = wrap.n, let r = wrap.r, let p = wrap.p,
                      n >= 2, n <= 1 << 20, n & (n - 1) == 0, (1...16).contains(r), (1...4).contains(p) else { continue }
                let key = try derive(passphrase, salt: salt, n: n, r: r, p: p)
                if let master = try? open(wrap.sealed, with: key, bound: bound) { return (StoreKeys(master: master), master) }
            }
            throw StoreError(.permissionDenied, "The passphrase does not unlock this store; check it and retry.")
        }
        throw StoreError(.permissionDenied, "The key file does not unlock this store and no passphrase was given (set TROVE_PASSPHRASE or run in a terminal).")
    }

    /// The master key sealed under a key derived from `passphrase`.
    static func wrap(_ master: SymmetricKey, passphrase: String, parameters: StoreEncryption) throws -> KeyWrap {
        let salt = Data((0..<16).map { _ in UInt8.random(in: 0...255) })
        let key = try derive(passphrase, salt: salt, n: scryptN, r: scryptR, p: scryptP)
        return KeyWrap(kind: .scrypt, salt: salt.base64EncodedString(), n: scryptN, r: scryptR, p: scryptP,
                       sealed: try seal(master, with: key, bound: boundParameters(parameters)))
    }

    /// The master key sealed under a key file's key.
    public static func wrap(_ master: SymmetricKey, keyFileKey: SymmetricKey, parameters: StoreEncryption) throws -> KeyWrap {
        KeyWrap(kind: .keyFile, keyID: fingerprint(keyFileKey), sealed: try seal(master, with: keyFileKey, bound: boundParameters(parameters)))
    }

    static func derive(_ passphrase: String, salt: Data, n: Int, r: Int, p: Int) throws -> SymmetricKey {
        do {
            return try KDF.Scrypt.deriveKey(from: Data(passphrase.utf8), salt: salt, outputByteCount: 32, rounds: n, blockSize: r, parallelism: p)
        } catch {
            throw StoreError(.permissionDenied, "Cannot derive the store key from the passphrase (\(error)).")
        }
    }

    static func seal(_ master: SymmetricKey, with key: SymmetricKey, bound: Data) throws -> String {
        let box = try AES.GCM.seal(master.withUnsafeBytes { Data($0) }, using: key, authenticating: bound)
        guard let combined = box.combined else { throw StoreError(.permissionDenied, "Cannot seal the master key.") }
        return combined.base64EncodedString()
    }

    static func open(_ sealed: String, with key: SymmetricKey, bound: Data) throws -> SymmetricKey {
        guard let data = Data(base64Encoded: sealed) else { throw StoreError(.permissionDenied, "A sealed key is damaged.") }
        let plain = try AES.GCM.open(try AES.GCM.SealedBox(combined: data), using: key, authenticating: bound)
        return SymmetricKey(data: plain)
    }

    /// First 8 bytes of the key's SHA-256, hex: tells key files apart without revealing them.
    static func fingerprint(_ key: SymmetricKey) -> String {
        key.withUnsafeBytes { SHA256.hash(data: Data($0)) }.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// Reads a key file: 32 random bytes as 64 hex digits or base64 (a newline allowed). Refuses a
    /// file others may read: a key is only as secret as its file.
    public static func readKeyFile(_ path: String) throws -> SymmetricKey {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw StoreError(.permissionDenied, "The key file \(path) is missing; restore it, or re-attach the store with its passphrase (`trove store add … --encrypt`).")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw StoreError(.permissionDenied, "The key file \(path) may be read by others (mode \(String(info.st_mode & 0o777, radix: 8))); run `chmod 600 \(path)`.")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw StoreError(.permissionDenied, "Cannot read the key file \(path); check its permissions.")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.count == 64, let bytes = hexBytes(trimmed) { return SymmetricKey(data: bytes) }
        if let data = Data(base64Encoded: trimmed), data.count == 32 { return SymmetricKey(data: data) }
        throw StoreError(.permissionDenied, "The key file \(path) does not hold a 32-byte key (64 hex digits or base64); make one with `head -c 32 /dev/urandom | base64 > \(path)`.")
    }

    /// Writes a new random key to `path` with mode 0600 (refusing to replace a file).
    public static func makeKeyFile(_ path: String) throws -> SymmetricKey {
        let key = SymmetricKey(size: .bits256)
        let text = key.withUnsafeBytes { Data($0) }.base64EncodedString() + "\n"
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o700])
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw StoreError(.permissionDenied, "Cannot create the key file \(path): \(String(cString: strerror(errno))).") }
        defer { Glibc.close(fd) }
        let ok = text.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, $0.count - 1) == $0.count - 1 }
        guard ok, fsync(fd) == 0 else { throw StoreError(.permissionDenied, "Cannot write the key file \(path).") }
        return key
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = hexValue(high), let l = hexValue(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        return bytes
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }
}
