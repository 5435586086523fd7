import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import TroveCore
import TroveStorage
import X509

/// This machine's long-term identity for talking to other Trove machines: a P-256 key pair and
/// a self-signed certificate over it, kept in the library's `keys/` folder (the key mode 0600).
/// Peers pin the certificate itself (its SHA-256), so no certificate authority is involved and
/// its names carry no meaning; it is made once, at `init` or when first needed.
public struct PeerIdentity: Sendable {
    /// The certificate in PEM and DER.
    public let certificatePEM: String
    public let certificateDER: [UInt8]
    /// The private key in PEM (PKCS#8).
    let privateKeyPEM: String

    /// SHA-256 of the certificate's DER bytes, in lowercase hex: what peers pin.
    public var fingerprint: String { Self.fingerprint(der: certificateDER) }

    public static func fingerprint(der: [UInt8]) -> String {
        SHA256.hash(data: der).map { String(format: "%02x", $0) }.joined()
    }

    /// The fingerprint of a certificate NIOSSL received.
    public static func fingerprint(_ certificate: NIOSSLCertificate) -> String? {
        (try? certificate.toDERBytes()).map { fingerprint(der: $0) }
    }

    public static func keyPath(library: String) -> String { library + "/keys/peer-key.pem" }
    public static func certificatePath(library: String) -> String { library + "/keys/peer-cert.pem" }

    /// The library's identity, made on first use. `name` goes into the certificate's subject
    /// (for people reading it; nothing checks it).
    public static func loadOrCreate(library: String, name: String, now: Date = Date()) throws -> PeerIdentity {
        if let existing = try load(library: library) { return existing }
        let made = try make(name: name, now: now)
        let folder = library + "/keys"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        // The key first: a certificate without its key is useless. Only the process whose key
        // landed writes the certificate; another one waits for that certificate (else it could
        // pair its own certificate with the other's key).
        guard try AtomicFile.create(Data(made.privateKeyPEM.utf8), at: keyPath(library: library), in: folder, mode: 0o600) else {
            for _ in 0..<100 {
                if let theirs = try? load(library: library) { return theirs }
                Thread.sleep(forTimeInterval: 0.05)
            }
            throw TroveError(.io, "\(keyPath(library: library)) has no certificate beside it; move it aside and run again to make a new identity.")
        }
        guard try AtomicFile.create(Data(made.certificatePEM.utf8), at: certificatePath(library: library), in: folder) else {
            // Another process made one meanwhile: use theirs.
            guard let theirs = try load(library: library) else { throw TroveError(.io, "The peer identity in \(folder) is incomplete.") }
            return theirs
        }
        guard let saved = try load(library: library), saved.fingerprint == made.fingerprint else {
            throw TroveError(.io, "\(keyPath(library: library)) does not match \(certificatePath(library: library)); move both aside and run again to make a new identity (paired peers must then pair again).")
        }
        return saved
    }

    /// The identity kept in the library, or nil when none was made yet.
    public static func load(library: String) throws -> PeerIdentity? {
        let certPath = certificatePath(library: library), keyPath = keyPath(library: library)
        guard let certText = try? String(contentsOfFile: certPath, encoding: .utf8) else { return nil }
        guard let keyText = try? String(contentsOfFile: keyPath, encoding: .utf8) else {
            throw TroveError(.io, "\(certPath) is there but its key \(keyPath) is not; restore the key from a backup, or move the certificate aside to make a new identity (peers must then pair again).")
        }
        do {
            let certificate = try Certificate(pemEncoded: certText)
            let key = try Certificate.PrivateKey(pemEncoded: keyText)
            guard key.publicKey == certificate.publicKey else {
                throw TroveError(.io, "\(keyPath) is not the key of \(certPath).")
            }
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            return PeerIdentity(certificatePEM: certText, certificateDER: serializer.serializedBytes, privateKeyPEM: keyText)
        } catch let error as TroveError {
            throw error
        } catch {
            throw TroveError(.io, "The peer identity in \(library)/keys cannot be read (\(error)).")
        }
    }

    /// A new key pair and self-signed certificate, valid from a day ago for 100 years (peers
    /// pin the certificate, so its dates only have to satisfy TLS libraries).
    static func make(name: String, now: Date) throws -> PeerIdentity {
        let key = P256.Signing.PrivateKey()
        let certificateKey = Certificate.PrivateKey(key)
        let subject = try DistinguishedName { CommonName("trove " + name) }
        var serialBytes = [UInt8](repeating: 0, count: 16)
        for index in serialBytes.indices { serialBytes[index] = UInt8.random(in: 0...255) }
        serialBytes[0] &= 0x7f
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(bytes: serialBytes[...]),
            publicKey: certificateKey.publicKey,
            notValidBefore: now - 86_400, notValidAfter: now + 100 * 365 * 86_400,
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
            },
            issuerPrivateKey: certificateKey)
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return PeerIdentity(certificatePEM: try certificate.serializeAsPEM().pemString, certificateDER: serializer.serializedBytes,
                            privateKeyPEM: key.pemRepresentation)
    }

    /// The certificate and key as NIOSSL takes them.
    public func nioCertificate() throws -> NIOSSLCertificate { try NIOSSLCertificate(bytes: certificateDER, format: .der) }
    public func nioPrivateKey() throws -> NIOSSLPrivateKey { try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem) }
}
