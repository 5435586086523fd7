import Foundation
import Testing
import TroveCore
import TrovePeer
import TroveStorage
import TroveTesting

@Suite(.serialized) struct PairingTests {
    /// An open invitation on the fixture's server, with a known secret.
    static func invite(_ fixture: PeerFixture, label: String = "laptop", rights: PeerRights = [.read]) throws -> PairingCode {
        let code = PairingCode(serverFingerprint: fixture.serverIdentity.fingerprint)
        try PeerBookFile(library: fixture.serverPath).update { book in
            book.invites.append(PendingInvite(label: label, secretDigest: PairingCode.secretDigest(code.secret), rights: rights,
                                              appendOnly: false, expires: Date() + PeerBook.inviteLifetime))
        }
        return code
    }

    static func newMachine(_ fixture: PeerFixture, _ name: String) throws -> (path: String, identity: PeerIdentity) {
        let path = fixture.folder.folder(name)
        return (path, try PeerIdentity.loadOrCreate(library: path, name: name))
    }

    @Test func aCodeFromTheServerPairsBothWaysOnce() throws {
        let fixture = try PeerFixture()
        let code = try Self.invite(fixture)
        let laptop = try Self.newMachine(fixture, "laptop")
        let address = "https://127.0.0.1:\(fixture.port)"
        let (server, reply) = try PeerJoin.join(library: laptop.path, identity: laptop.identity, address: address, code: code, label: "nas")
        #expect(server.fingerprint == fixture.serverIdentity.fingerprint)
        #expect(reply.rights == [.read] && reply.label == "laptop")
        let pinned = try PeerBookFile(library: fixture.serverPath).load().peer(label: "laptop")
        #expect(pinned?.fingerprint == laptop.identity.fingerprint)
        #expect(try PeerBookFile(library: fixture.serverPath).load().invites.isEmpty, "the code is spent")
        // The paired laptop may now read.
        let client = try PeerClient(peer: server, identity: laptop.identity)
        defer { client.shutdown() }
        #expect(try client.send(.GET, "/v1/hosted/tank").status == 200)
        // The same code again, from another machine, is refused (and nothing is pinned).
        let thief = try Self.newMachine(fixture, "thief")
        #expect(throws: TroveError.self) {
            try PeerJoin.join(library: thief.path, identity: thief.identity, address: address, code: code, label: "nas")
        }
        #expect(try PeerBookFile(library: fixture.serverPath).load().peer(fingerprint: thief.identity.fingerprint) == nil)
    }

    @Test func aCodeForAnotherServerSendsNothing() throws {
        let fixture = try PeerFixture()
        _ = try Self.invite(fixture)
        let laptop = try Self.newMachine(fixture, "laptop")
        let elsewhere = PairingCode(serverFingerprint: String(repeating: "ab", count: 32))
        #expect(throws: TroveError.self) {
            try PeerJoin.join(library: laptop.path, identity: laptop.identity, address: "https://127.0.0.1:\(fixture.port)",
                              code: elsewhere, label: "nas")
        }
        let book = try PeerBookFile(library: fixture.serverPath).load()
        #expect(book.failures.isEmpty, "the secret was never sent: the server's certificate did not match the code")
        #expect(try PeerBookFile(library: laptop.path).load().peers.isEmpty)
    }

    @Test func wrongCodesAreCountedAndThenPairingIsLocked() throws {
        let fixture = try PeerFixture()
        let good = try Self.invite(fixture)
        let address = "https://127.0.0.1:\(fixture.port)"
        let guesser = try Self.newMachine(fixture, "guesser")
        for _ in 0..<PeerBook.failureLimit {
            let wrong = PairingCode(serverFingerprint: fixture.serverIdentity.fingerprint)
            #expect(throws: TroveError.self) {
                try PeerJoin.join(library: guesser.path, identity: guesser.identity, address: address, code: wrong, label: "nas")
            }
        }
        #expect(try PeerBookFile(library: fixture.serverPath).load().failures.count == PeerBook.failureLimit)
        // Now even the right code is refused until the window passes.
        let honest = try Self.newMachine(fixture, "honest")
        #expect(throws: TroveError.self) {
            try PeerJoin.join(library: honest.path, identity: honest.identity, address: address, code: good, label: "nas")
        }
        #expect(try PeerBookFile(library: fixture.serverPath).load().peer(label: "laptop") == nil)
    }

    @Test func codesParseAsPrintedAndRefuseTypos() throws {
        let code = PairingCode(serverFingerprint: String(repeating: "0f", count: 32))
        #expect(try PairingCode(parsing: code.description) == code)
        #expect(try PairingCode(parsing: code.description.lowercased().replacingOccurrences(of: "-", with: " ")) == code)
        #expect(code.description.count == 39)
        #expect(throws: TroveError.self) { try PairingCode(parsing: String(code.description.dropLast())) }
        #expect(code.matches(serverFingerprint: String(repeating: "0f", count: 32)))
        #expect(!code.matches(serverFingerprint: String(repeating: "0e", count: 32)))
    }

    @Test func expiredInvitationsPairNobody() throws {
        var book = PeerBook()
        let code = PairingCode(serverFingerprint: String(repeating: "0f", count: 32))
        let now = Date()
        book.invites.append(PendingInvite(label: "x", secretDigest: PairingCode.secretDigest(code.secret), rights: [.read], appendOnly: false,
                                          expires: now + 600))
        #expect(book.hasOpenInvite(now: now + 599))
        #expect(!book.hasOpenInvite(now: now + 601))
        #expect(book.pair(secret: code.secret, certificatePEM: "", fingerprint: "f", now: now + 601) == .refused)
        #expect(book.peers.isEmpty)
    }
}

/// Pairing both ways (each machine invites the other) keeps what each side knew.
struct PeerBookMergeTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let desktop = PinnedPeer(label: "desktop", fingerprint: String(repeating: "d1", count: 32), certificate: "PEM",
                                    rights: [.read, .write], appendOnly: true, address: nil, added: now)

    @Test func joiningAMachineThatJoinedHereKeepsItsRightsHere() {
        var book = PeerBook()
        book.peers = [Self.desktop]
        // This machine now joins the desktop: it learns the desktop's address.
        var server = Self.desktop
        server.label = "desk"
        server.rights = []
        server.appendOnly = false
        server.address = "https://desktop.local:7860"
        let pinned = book.pin(server, keepRights: true)
        #expect(book.peers.count == 1)
        #expect(pinned.rights == [.read, .write] && pinned.appendOnly, "the rights granted by the earlier invitation stay")
        #expect(pinned.address == "https://desktop.local:7860" && pinned.label == "desk")
    }

    @Test func aMachineJoiningByInvitationKeepsTheAddressThisOneReachesItAt() {
        var book = PeerBook()
        var known = Self.desktop
        known.rights = []
        known.address = "https://desktop.local:7860"
        book.peers = [known]
        let code = PairingCode(serverFingerprint: String(repeating: "ee", count: 32))
        book.invites = [PendingInvite(label: "desktop", secretDigest: PairingCode.secretDigest(code.secret), rights: [.read],
                                      appendOnly: false, expires: Self.now + 600)]
        guard case .paired(let pinned) = book.pair(secret: code.secret, certificatePEM: "PEM", fingerprint: known.fingerprint, now: Self.now) else {
            Issue.record("not paired")
            return
        }
        #expect(book.peers.count == 1)
        #expect(pinned.rights == [.read] && !pinned.appendOnly, "the invitation's rights, not the old ones")
        #expect(pinned.address == "https://desktop.local:7860")
    }
}
